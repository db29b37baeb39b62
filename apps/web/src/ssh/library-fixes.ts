/**
 * A gap in @microsoft/dev-tunnels-ssh 3.12 against OpenSSH: its keyboard-interactive request
 * (`SSH_MSG_USERAUTH_REQUEST`, method "keyboard-interactive") ends after the method name, without
 * the language tag and submethods strings of RFC 4256, 3.1, so sshd refuses it ("incomplete
 * message"). The two empty strings are appended here, to that message alone.
 */
import { AuthenticationRequestMessage, type SshDataWriter } from "@microsoft/dev-tunnels-ssh";

type Writable = { onWrite(writer: SshDataWriter): void; methodName?: string };
const prototype = AuthenticationRequestMessage.prototype as unknown as Writable;
const write = prototype.onWrite;
prototype.onWrite = function (this: Writable, writer: SshDataWriter) {
  write.call(this, writer);
  if (
    Object.getPrototypeOf(this) === AuthenticationRequestMessage.prototype &&
    this.methodName === "keyboard-interactive"
  ) {
    writer.writeString("", "utf8"); // language tag
    writer.writeString("", "utf8"); // submethods
  }
};
