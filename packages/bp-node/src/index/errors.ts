/** Why a block was refused; nothing of it was written. */
export type RejectCode =
  | 'decode'
  | 'bad-height'
  | 'bad-prev'
  | 'bad-pow'
  | 'bad-merkle'
  | 'bad-witness-commitment'
  | 'bad-coinbase'
  | 'duplicate-tx'
  | 'missing-input'
  | 'double-spend';

export class BlockRejected extends Error {
  override readonly name = 'BlockRejected';
  constructor(
    readonly code: RejectCode,
    readonly height: number,
    readonly detail: string,
  ) {
    super(`block at height ${height} rejected: ${code}: ${detail}`);
  }
}
