export * from './asm.ts';
export * from './classify.ts';
export * from './controlblock.ts';
export * from './electrum.ts';
export * from './num.ts';
export * from './opcodes.ts';
export * from './revealed.ts';
export * from './tokenize.ts';
