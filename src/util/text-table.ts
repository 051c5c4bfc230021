/**
 * Texts numbered in the order they are first seen: the few distinct values (queue
 * names, closing causes) that a per-row typed column holds the numbers of.
 */
export class TextTable {
  readonly texts: string[] = [];
  private readonly numbers = new Map<string, number>();

  constructor(first: readonly string[] = []) {
    for (const t of first) this.numberOf(t);
  }

  /** The number of `text`, given it the next one if it is new. */
  numberOf(text: string): number {
    let k = this.numbers.get(text);
    if (k === undefined) {
      k = this.texts.push(text) - 1;
      this.numbers.set(text, k);
    }
    return k;
  }
}
