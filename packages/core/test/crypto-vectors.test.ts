// Published known-answer vectors, run against both backends.
import { blake2s } from "@noble/hashes/blake2.js";
import { describe, expect, it } from "vitest";
import { ascii, backendsUnderTest, hex, toHex } from "./crypto-backends.js";

/** RFC 7693 Appendix E: deterministic Fibonacci-style test input. */
function selftestSequence(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let a = Math.imul(0xdead4bad, seed) >>> 0;
  let b = 1;
  for (let i = 0; i < length; i++) {
    const t = (a + b) >>> 0;
    a = b;
    b = t;
    out[i] = t >>> 24;
  }
  return out;
}

const SUNSCREEN = ascii(
  "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, " +
    "sunscreen would be it.",
);
const KEY_80_9F = hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");

// RFC 8439 §2.8.2.
const RFC8439_NONCE = hex("070000004041424344454647");
const RFC8439_AAD = hex("50515253c0c1c2c3c4c5c6c7");
const RFC8439_SEALED =
  "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b" +
  "1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc" +
  "3ff4def08e4b7a9de576d26586cec64b6116" +
  "1ae10b594f09e26a7e902ecbd0600691";

// RFC 8439 Appendix A.5: its nonce 00000000 0102030405060708 is exactly WireGuard's layout
// (4 zero bytes, then a little-endian 64-bit counter), so it exercises seal/open directly.
const A5_KEY = hex("1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0");
const A5_COUNTER = 0x0807060504030201n;
const A5_AAD = hex("f33388860000000000004e91");
const A5_PLAINTEXT = hex(`
  496e7465726e65742d4472616674732061726520647261667420646f63756d65
  6e74732076616c696420666f722061206d6178696d756d206f6620736978206d
  6f6e74687320616e64206d617920626520757064617465642c207265706c6163
  65642c206f72206f62736f6c65746564206279206f7468657220646f63756d65
  6e747320617420616e792074696d652e20497420697320696e617070726f7072
  6961746520746f2075736520496e7465726e65742d4472616674732061732072
  65666572656e6365206d6174657269616c206f7220746f206369746520746865
  6d206f74686572207468616e206173202fe2809c776f726b20696e2070726f67
  726573732e2fe2809d`);
const A5_SEALED = hex(`
  64a0861575861af460f062c79be643bd5e805cfd345cf389f108670ac76c8cb2
  4c6cfc18755d43eea09ee94e382d26b0bdb7b73c321b0100d4f03b7f355894cf
  332f830e710b97ce98c8a84abd0b948114ad176e008d33bd60f982b1ff37c855
  9797a06ef4f0ef61c186324e2b3506383606907b6a7c02b0f9f6157b53c867e4
  b9166c767b804d46a59b5216cde7a4e99040c5a40433225ee282a1b0a06c523e
  af4534d7f83fa1155b0047718cbc546a0d072b04b3564eea1b422273f548271a
  0bb2316053fa76991955ebd63159434ecebb4e466dae5a1073a6727627097a10
  49e617d91d361094fa68f0ff77987130305beaba2eda04df997b714d6c6f2c29
  a6ad5cb4022b02709b
  eead9d67890cbb22392336fea1851f38`);

// draft-irtf-cfrg-xchacha-03 §A.3.1.
const XCHACHA_NONCE = hex("404142434445464748494a4b4c4d4e4f5051525354555657");
const XCHACHA_SEALED =
  "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39" +
  "ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9" +
  "21f9664c97637da9768812f615c68b13b52e" +
  "c0875924c1c7987947deafd8780acf49";

// Curve25519 points of small order (and non-canonical encodings of them): X25519 with any
// scalar gives zero, which WireGuard must reject.
const LOW_ORDER_POINTS = [
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0100000000000000000000000000000000000000000000000000000000000000",
  "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
  "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
];

describe.each(backendsUnderTest)("$name backend: known answers", (subject) => {
  const { backend } = subject;

  describe("BLAKE2s (RFC 7693)", () => {
    it('hashes "abc" to the Appendix B digest, whole or in parts', () => {
      const digest = "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982";
      expect(toHex(backend.hash(ascii("abc")))).toBe(digest);
      expect(toHex(backend.hash(ascii("a"), new Uint8Array(0), ascii("bc")))).toBe(digest);
    });

    it("reproduces the Appendix E self-test grand hash (keyed 16-byte MACs included)", () => {
      // The backend supplies the unkeyed and keyed 16-byte digests (mac), the unkeyed 32-byte
      // digests and the grand hash (hash); noble fills in the lengths the interface lacks.
      const parts: Uint8Array[] = [];
      for (const outLength of [16, 20, 28, 32]) {
        for (const inLength of [0, 3, 64, 65, 255, 1024]) {
          const input = selftestSequence(inLength, inLength);
          const key = selftestSequence(outLength, outLength);
          if (outLength === 16) {
            parts.push(backend.mac(new Uint8Array(0), input), backend.mac(key, input));
          } else if (outLength === 32) {
            parts.push(backend.hash(input), blake2s(input, { key, dkLen: 32 }));
          } else {
            parts.push(blake2s(input, { dkLen: outLength }));
            parts.push(blake2s(input, { key, dkLen: outLength }));
          }
        }
      }
      expect(toHex(backend.hash(...parts))).toBe(
        "6a411f08ce25adcdfb02aba641451cec53c598b24f4fc787fbdc88797f4c1dfe",
      );
    });
  });

  describe("ChaCha20-Poly1305 (RFC 8439)", () => {
    it("seals and opens the §2.8.2 vector with its raw nonce", () => {
      const sealed = subject.sealWithNonce(KEY_80_9F, RFC8439_NONCE, SUNSCREEN, RFC8439_AAD);
      expect(toHex(sealed)).toBe(RFC8439_SEALED);
      const opened = subject.openWithNonce(
        KEY_80_9F,
        RFC8439_NONCE,
        hex(RFC8439_SEALED),
        RFC8439_AAD,
      );
      expect(opened).toEqual(SUNSCREEN);
    });

    it("seals and opens the Appendix A.5 vector through the WireGuard counter nonce", () => {
      expect(toHex(backend.seal(A5_KEY, A5_COUNTER, A5_PLAINTEXT, A5_AAD))).toBe(toHex(A5_SEALED));
      expect(backend.open(A5_KEY, A5_COUNTER, A5_SEALED, A5_AAD)).toEqual(A5_PLAINTEXT);
    });

    it("returns null for a flipped bit, a wrong counter, wrong AAD or a truncated message", () => {
      for (const index of [0, 100, A5_SEALED.length - 1]) {
        const tampered = A5_SEALED.slice();
        tampered[index]! ^= 0x01;
        expect(backend.open(A5_KEY, A5_COUNTER, tampered, A5_AAD)).toBeNull();
      }
      expect(backend.open(A5_KEY, A5_COUNTER + 1n, A5_SEALED, A5_AAD)).toBeNull();
      expect(backend.open(A5_KEY, A5_COUNTER, A5_SEALED, new Uint8Array(0))).toBeNull();
      expect(backend.open(A5_KEY, A5_COUNTER, A5_SEALED.subarray(0, 15), A5_AAD)).toBeNull();
      expect(backend.open(A5_KEY, A5_COUNTER, new Uint8Array(0), A5_AAD)).toBeNull();
    });

    it("seals an empty message (a keepalive) to a lone 16-byte tag that opens to nothing", () => {
      const sealed = backend.seal(A5_KEY, 0n, new Uint8Array(0), new Uint8Array(0));
      expect(sealed.length).toBe(16);
      expect(backend.open(A5_KEY, 0n, sealed, new Uint8Array(0))).toEqual(new Uint8Array(0));
    });

    it("accepts counters 0..2^64-1 and rejects anything outside with a RangeError", () => {
      const max = 0xffff_ffff_ffff_ffffn;
      const sealed = backend.seal(A5_KEY, max, SUNSCREEN, RFC8439_AAD);
      expect(backend.open(A5_KEY, max, sealed, RFC8439_AAD)).toEqual(SUNSCREEN);
      expect(() => backend.seal(A5_KEY, max + 1n, SUNSCREEN, RFC8439_AAD)).toThrow(RangeError);
      expect(() => backend.seal(A5_KEY, -1n, SUNSCREEN, RFC8439_AAD)).toThrow(
        "nonce counter: expected a bigint in 0..2^64-1, got -1",
      );
      expect(() => backend.seal(new Uint8Array(31), 0n, SUNSCREEN, RFC8439_AAD)).toThrow(
        "ChaCha20-Poly1305 key: expected 32 bytes, got 31",
      );
    });
  });

  describe("XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha §A.3.1)", () => {
    it("seals and opens the published vector", () => {
      expect(toHex(backend.xseal(KEY_80_9F, XCHACHA_NONCE, SUNSCREEN, RFC8439_AAD))).toBe(
        XCHACHA_SEALED,
      );
      expect(backend.xopen(KEY_80_9F, XCHACHA_NONCE, hex(XCHACHA_SEALED), RFC8439_AAD)).toEqual(
        SUNSCREEN,
      );
    });

    it("returns null for a tampered message, nonce or AAD", () => {
      const sealed = hex(XCHACHA_SEALED);
      const tampered = sealed.slice();
      tampered[5]! ^= 0x80;
      expect(backend.xopen(KEY_80_9F, XCHACHA_NONCE, tampered, RFC8439_AAD)).toBeNull();
      const otherNonce = XCHACHA_NONCE.slice();
      otherNonce[23]! ^= 1;
      expect(backend.xopen(KEY_80_9F, otherNonce, sealed, RFC8439_AAD)).toBeNull();
      expect(backend.xopen(KEY_80_9F, XCHACHA_NONCE, sealed, new Uint8Array(1))).toBeNull();
      expect(
        backend.xopen(KEY_80_9F, XCHACHA_NONCE, sealed.subarray(0, 10), RFC8439_AAD),
      ).toBeNull();
    });
  });

  describe("X25519 (RFC 7748)", () => {
    it("matches the §5.2 scalar multiplication vectors (high bit of u ignored)", () => {
      expect(
        toHex(
          backend.x25519(
            hex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"),
            hex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"),
          ),
        ),
      ).toBe("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
      expect(
        toHex(
          backend.x25519(
            hex("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d"),
            hex("e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493"),
          ),
        ),
      ).toBe("95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957");
    });

    it("matches the §5.2 iterated vector after 1 and 1,000 iterations", () => {
      let k = hex("0900000000000000000000000000000000000000000000000000000000000000");
      let u = k;
      for (let i = 1; i <= 1000; i++) {
        const next = backend.x25519(k, u);
        u = k;
        k = next;
        if (i === 1) {
          expect(toHex(k)).toBe("422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079");
        }
      }
      expect(toHex(k)).toBe("684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51");
    });

    it("matches the §6.1 Diffie-Hellman vector (public keys and shared secret)", () => {
      const alice = hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
      const bob = hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
      const alicePublic = backend.x25519Public(alice);
      const bobPublic = backend.x25519Public(bob);
      expect(toHex(alicePublic)).toBe(
        "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
      );
      expect(toHex(bobPublic)).toBe(
        "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
      );
      const shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
      expect(toHex(backend.x25519(alice, bobPublic))).toBe(shared);
      expect(toHex(backend.x25519(bob, alicePublic))).toBe(shared);
    });

    it.each(LOW_ORDER_POINTS)("returns all zeros for the low-order point %s", (point) => {
      const privateKey = hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
      expect(backend.x25519(privateKey, hex(point))).toEqual(new Uint8Array(32));
    });

    it("rejects keys of the wrong length with a labelled RangeError", () => {
      expect(() => backend.x25519Public(new Uint8Array(31))).toThrow(
        "X25519 private key: expected 32 bytes, got 31",
      );
      expect(() => backend.x25519(new Uint8Array(32), new Uint8Array(33))).toThrow(RangeError);
    });
  });

  it("returns plain Uint8Arrays, never node Buffers", () => {
    const key = KEY_80_9F;
    const outputs = [
      backend.hash(key),
      backend.hmac(key, key),
      backend.mac(key, key),
      backend.seal(key, 1n, key, key),
      backend.open(key, 1n, backend.seal(key, 1n, key, key), key)!,
      backend.x25519Public(key),
      backend.x25519(key, backend.x25519Public(key)),
    ];
    for (const output of outputs) expect(Object.getPrototypeOf(output)).toBe(Uint8Array.prototype);
  });
});
