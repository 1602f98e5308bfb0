export { addChecksum, descriptorChecksum } from './checksum.ts';
export { HARDENED, type KeyContext, KeyExpr, type Origin } from './keys.ts';
export {
  assertWatchOnly,
  type DescNode,
  Descriptor,
  MAX_DESCRIPTOR_LENGTH,
  type ParseDescriptorOptions,
  parseDescriptor,
  type TapTree,
} from './parse.ts';
export { tapBranchHash, tapLeafHash, tweakXOnly } from './taproot.ts';
