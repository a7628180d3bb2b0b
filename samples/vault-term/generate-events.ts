/**
 * A deterministic generator of realistic rindexer MultiVault messages (seeded PRNG): atoms,
 * triples over a few shared predicates, deposits and redeems by a pool of accounts on pro and
 * counter vaults over two curves, and share price changes, in chain order (increasing block,
 * log index within a block). Balances are consistent: totalShares is the receiver's balance after.
 *
 * Used by the bundled sample file (`npx tsx samples/vault-term/generate-events.ts > events.jsonl`),
 * the tests (shuffled / duplicated / replayed) and the benchmark.
 */
import process from "node:process";
import { keccak256, toUtf8Bytes } from "ethers";
import { counterTermId } from "../../actors/vault-term/normalize.ts";
import { mulberry32 } from "../seeded-random.ts";

export interface GenerateOptions {
  seed?: number;
  atoms?: number;
  triples?: number;
  accounts?: number;
  /** Deposit / redeem / price events after the atoms and triples. */
  events?: number;
  startBlock?: number;
  network?: string;
}

export interface RindexerMessage {
  event_name: string;
  event_signature_hash: string;
  event_data: Record<string, unknown>;
  network: string;
}

const TOPICS: Record<string, string> = {
  AtomCreated: "0xfd579ad7468b1720e08f84efe16900074f3ffdaaeaa82e675e5aec69bf393189",
  TripleCreated: "0xf13505b910c49b286cf7fbaf1a78620cf7d8bda0e8e39c1baed620c08af686e7",
  Deposited: "0xf717428d3271f4ca44ee92a96ecda708463de1c200f30db4e295def5e8db6b4a",
  Redeemed: "0x5ab85658e5658520d47644e1417584159fc8edb9712149792a9337ff5e1048a4",
  SharePriceChanged: "0xcc9bc63a4b047be4850fcbada8d7ed7aa097ed4f6c3b55bebc7e108ea1d2f824",
};
const CONTRACT = "0x6E35cF57A41fA15eA0EaE9C33e751b01A784Fe7e";
const CURVES = ["1", "2"];
const WAD = 10n ** 18n;


const hexText = (text: string) => Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, "0")).join("");

export function generateEvents(opts: GenerateOptions = {}): RindexerMessage[] {
  const rand = mulberry32(opts.seed ?? 1);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)];
  const network = opts.network ?? "intuition-testnet";
  const seedTag = `${opts.seed ?? 1}`;
  const accounts = Array.from({ length: opts.accounts ?? 40 }, (_, i) => keccak256(toUtf8Bytes(`account-${seedTag}-${i}`)).slice(0, 42).toLowerCase());
  let block = opts.startBlock ?? 1_311;
  let log = 0;
  let txn = 0;
  const out: RindexerMessage[] = [];
  const emit = (name: string, data: Record<string, unknown>) => {
    if (rand() < 0.35) {
      block += 1 + Math.floor(rand() * 3);
      log = 0;
    }
    const tx = keccak256(toUtf8Bytes(`tx-${seedTag}-${txn++}`));
    out.push({
      event_name: name,
      event_signature_hash: TOPICS[name],
      network,
      event_data: {
        ...data,
        transaction_information: {
          address: CONTRACT,
          block_hash: keccak256(toUtf8Bytes(`block-${seedTag}-${block}`)),
          block_number: block,
          block_timestamp: "0x" + (1_756_464_756 + block * 2).toString(16),
          log_index: rand() < 0.5 ? "0x" + log.toString(16) : String(log),
          network,
          transaction_hash: tx,
          transaction_index: Math.floor(rand() * 20),
        },
      },
    });
    log += 1;
  };

  const atoms = Array.from({ length: opts.atoms ?? 30 }, (_, i) => keccak256(toUtf8Bytes(`atom-${seedTag}-${i}`)));
  const predicates = atoms.slice(0, Math.max(1, Math.min(4, atoms.length)));
  for (const [i, term] of atoms.entries()) {
    emit("AtomCreated", { creator: pick(accounts), termId: term, atomData: hexText(i % 7 === 6 ? `\u0000bin${i}` : `ipfs://bafy-atom-${seedTag}-${i}`), atomWallet: pick(accounts) });
  }
  const triples: string[] = [];
  const counters: string[] = [];
  for (let i = 0; i < (opts.triples ?? 12); i++) {
    const term = keccak256(toUtf8Bytes(`triple-${seedTag}-${i}`));
    triples.push(term);
    counters.push(counterTermId(term));
    emit("TripleCreated", { creator: pick(accounts), termId: term, subjectId: pick(atoms), predicateId: pick(predicates), objectId: pick(atoms) });
  }
  const vaultTerms: { term: string; vaultType: number }[] = [
    ...atoms.map((term) => ({ term, vaultType: 0 })),
    ...triples.map((term) => ({ term, vaultType: 1 })),
    ...counters.map((term) => ({ term, vaultType: 2 })),
  ];
  const balances = new Map<string, bigint>();
  const vaultShares = new Map<string, bigint>();
  for (let i = 0; i < (opts.events ?? 300); i++) {
    const { term, vaultType } = pick(vaultTerms);
    const curveId = rand() < 0.8 ? CURVES[0] : CURVES[1];
    const account = pick(accounts);
    const key = `${account}|${term}|${curveId}`;
    const vaultKey = `${term}|${curveId}`;
    const balance = balances.get(key) ?? 0n;
    const r = rand();
    if (r < 0.6 || balance === 0n) {
      const assets = BigInt(Math.floor(rand() * 1e6) + 1) * 10n ** 12n;
      const fee = assets / 100n;
      const shares = (assets - fee) * 9n / 10n;
      balances.set(key, balance + shares);
      vaultShares.set(vaultKey, (vaultShares.get(vaultKey) ?? 0n) + shares);
      emit("Deposited", {
        sender: account, receiver: account, termId: term, curveId, assets: assets.toString(), assetsAfterFees: (assets - fee).toString(),
        shares: shares.toString(), totalShares: (balance + shares).toString(), vaultType,
      });
    } else if (r < 0.85) {
      const shares = rand() < 0.3 ? balance : balance / BigInt(2 + Math.floor(rand() * 3));
      balances.set(key, balance - shares);
      vaultShares.set(vaultKey, (vaultShares.get(vaultKey) ?? 0n) - shares);
      const assets = shares * 11n / 10n;
      emit("Redeemed", {
        sender: account, receiver: account, termId: term, curveId, shares: shares.toString(), totalShares: (balance - shares).toString(),
        assets: assets.toString(), fees: (assets / 200n).toString(), vaultType,
      });
    } else {
      const totalShares = vaultShares.get(vaultKey) ?? 0n;
      const sharePrice = WAD + BigInt(Math.floor(rand() * 1e6)) * 10n ** 11n;
      emit("SharePriceChanged", {
        termId: term, curveId, sharePrice: sharePrice.toString(), totalAssets: (totalShares * sharePrice / WAD).toString(), totalShares: totalShares.toString(), vaultType,
      });
    }
  }
  return out;
}

// `npx tsx samples/vault-term/generate-events.ts [events] [seed]` prints JSONL (one rindexer message per line).
if (import.meta.url === `file://${process.argv[1]}` || (import.meta as { main?: boolean }).main) {
  const events = Number(process.argv[2] ?? 400);
  const seed = Number(process.argv[3] ?? 2025);
  for (const m of generateEvents({ events, seed, atoms: 30, triples: 15 })) process.stdout.write(JSON.stringify(m) + "\n");
}
