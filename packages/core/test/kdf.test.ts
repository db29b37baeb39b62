import { describe, expect, it } from "vitest";
import { kdf1, kdf2, kdf3 } from "../src/kdf.js";
import { backendsUnderTest, hex, toHex } from "./crypto-backends.js";

// wireguard-go device/kdf_test.go.
const VECTORS = [
  {
    key: "746573742d6b6579", // "test-key"
    input: "746573742d696e707574", // "test-input"
    t0: "6f0e5ad38daba1bea8a0d213688736f19763239305e0f58aba697f9ffc41c633",
    t1: "df1194df20802a4fe594cde27e92991c8cae66c366e8106aaa937a55fa371e8a",
    t2: "fac6e2745a325f5dc5d11a5b165aad08b0ada28e7b4e666b7c077934a4d76c24",
  },
  {
    key: "776972656775617264", // "wireguard"
    input: "776972656775617264",
    t0: "491d43bbfdaa8750aaf535e334ecbfe5129967cd64635101c566d4caefda96e8",
    t1: "1e71a379baefd8a79aa4662212fcafe19a23e2b609a3db7d6bcba8f560e3d25f",
    t2: "31e1ae48bddfbe5de38f295e5452b1909a1b4e38e183926af3780b0c1e1f0160",
  },
  {
    key: "",
    input: "",
    t0: "8387b46bf43eccfcf349552a095d8315c4055beb90208fb1be23b894bc2ed5d0",
    t1: "58a0e5f6faefccf4807bff1f05fa8a9217945762040bcec2f4b4a62bdfe0e86e",
    t2: "0ce6ea98ec548f8e281e93e32db65621c45eb18dc6f0a7ad94178610a2f7338e",
  },
];

describe.each(backendsUnderTest)(
  "$name backend: Noise KDF (wireguard-go vectors)",
  ({ backend }) => {
    it.each(VECTORS)("key $key, input $input", (vector) => {
      const key = hex(vector.key);
      const input = hex(vector.input);
      expect(toHex(kdf1(backend, key, input))).toBe(vector.t0);
      expect(kdf2(backend, key, input).map(toHex)).toEqual([vector.t0, vector.t1]);
      expect(kdf3(backend, key, input).map(toHex)).toEqual([vector.t0, vector.t1, vector.t2]);
    });

    it("leaves its arguments untouched and returns independent 32-byte buffers", () => {
      const key = hex(VECTORS[0]!.key);
      const input = hex(VECTORS[0]!.input);
      const outputs = kdf3(backend, key, input);
      expect(toHex(key)).toBe(VECTORS[0]!.key);
      expect(toHex(input)).toBe(VECTORS[0]!.input);
      for (const output of outputs) expect(output.length).toBe(32);
      outputs[0].fill(0);
      expect(toHex(outputs[1])).toBe(VECTORS[0]!.t1);
    });
  },
);
