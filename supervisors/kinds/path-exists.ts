/** Whether a file or folder is there (bundled samples are optional in a build). */
import { access } from "node:fs/promises";

export async function pathExists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
