import { ValueError } from '../errors.ts';

/**
 * A fault in text given by a person (descriptor, miniscript, pattern) at a character
 * position, so a CLI can point at it: `what: detail at position N`.
 */
export class PositionedError extends ValueError {
  constructor(
    what: string,
    /** 0-based character offset of the fault in the input text. */
    readonly position: number,
    detail: string,
  ) {
    super(what, `${detail} at position ${position}`);
  }
}
