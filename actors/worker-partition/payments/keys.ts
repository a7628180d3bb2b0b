/**
 * The payer's key: `ETH_PRIVATE_KEY` is a raw key (0x + 64 hex) or the path of a JSON keystore;
 * `ETH_KEYSTORE_PASSWORD` is the password or the path of a file holding it. Neither value ever
 * appears in an error message or a log line: errors say which key is wrong, never its value.
 */
import { readFile, stat } from "node:fs/promises";
import { Wallet } from "ethers";

export class KeyConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KeyConfigError";
  }
}

const RAW_KEY = /^(0x)?[0-9a-fA-F]{64}$/;

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** Load the payer wallet (not connected to a provider). */
export async function loadPayerWallet(privateKeyOrPath: string | undefined, passwordOrPath = ""): Promise<Wallet> {
  if (privateKeyOrPath === undefined || privateKeyOrPath.trim() === "") throw new KeyConfigError("ETH_PRIVATE_KEY is not set: payments cannot be signed");
  const value = privateKeyOrPath.trim();
  if (RAW_KEY.test(value)) {
    try {
      return new Wallet(value.startsWith("0x") ? value : `0x${value}`);
    } catch {
      throw new KeyConfigError("ETH_PRIVATE_KEY is not a valid secp256k1 private key");
    }
  }
  if (!(await isFile(value))) throw new KeyConfigError("ETH_PRIVATE_KEY is neither a 32-byte hex key nor the path of a readable keystore file");
  const json = await readFile(value, "utf8");
  const password = (await isFile(passwordOrPath)) ? (await readFile(passwordOrPath, "utf8")).replace(/\r?\n$/, "") : passwordOrPath;
  try {
    const wallet = await Wallet.fromEncryptedJson(json, password);
    return new Wallet(wallet.privateKey);
  } catch {
    throw new KeyConfigError("ETH_PRIVATE_KEY keystore could not be decrypted with ETH_KEYSTORE_PASSWORD (wrong password or not a keystore)");
  }
}
