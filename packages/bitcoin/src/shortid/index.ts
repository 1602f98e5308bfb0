export * from './codec.ts';
export * from './hashes.ts';
export type * from './item.ts';
export * from './layout.ts';
export * from './parts.ts';
export * from './scid.ts';
export * from './text.ts';
