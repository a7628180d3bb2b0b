/** What a promise rejects with, for asserting on errors; a promise that resolves fails the test. */
export async function rejectionOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected a rejection");
}

/** The message of the error a promise rejects with (fails the test when it resolves). */
export async function rejectionMessage(p: Promise<unknown>): Promise<string> {
  return ((await rejectionOf(p)) as Error).message;
}
