/**
 * Cuts a stream of text chunks into lines (without the newline), carrying a partial line
 * from one chunk to the next. Memory is bounded: a line longer than `maxLength` is never
 * assembled; it is counted once and skipped up to its newline.
 */
export class LineSplitter {
  #partial = '';
  #skipping = false;

  constructor(readonly maxLength: number) {}

  /** Calls `onLine` for every line `chunk` completes; returns how many lines were too long. */
  push(chunk: string, onLine: (line: string) => void): number {
    const max = this.maxLength;
    let tooLong = 0;
    let start = 0;
    for (let newline = chunk.indexOf('\n'); newline >= 0; newline = chunk.indexOf('\n', start)) {
      if (this.#skipping) {
        this.#skipping = false; // the end of a line already counted
      } else if (this.#partial !== '') {
        const line = this.#partial + chunk.slice(start, newline);
        this.#partial = '';
        if (line.length > max) tooLong++;
        else onLine(line);
      } else if (newline - start > max) {
        tooLong++;
      } else {
        onLine(chunk.slice(start, newline));
      }
      start = newline + 1;
    }
    if (start < chunk.length && !this.#skipping) {
      const rest = this.#partial + chunk.slice(start);
      if (rest.length > max) {
        this.#partial = '';
        this.#skipping = true;
        tooLong++;
      } else {
        this.#partial = rest;
      }
    }
    return tooLong;
  }

  /** The last line when the input did not end with a newline; resets the splitter. */
  end(): string | undefined {
    const rest = this.#skipping ? '' : this.#partial;
    this.#partial = '';
    this.#skipping = false;
    return rest === '' ? undefined : rest;
  }
}
