export { compileMiniscript, hash160 } from './compile.ts';
export { PositionedError } from './errors.ts';
export { formatMiniscript, hexFormatter, type LeafFormatter } from './format.ts';
export { liftMiniscript } from './lift.ts';
export type { Fragment, MsContext, MsNode } from './node.ts';
export { hexLeaves, type LeafParser, makeNode, parseMiniscript } from './parse.ts';
export { has, T, typeString } from './types.ts';
