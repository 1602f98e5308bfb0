export { BOLT3_TEMPLATES } from './bolt3.ts';
export {
  type Bindings,
  type CompiledPattern,
  compilePattern,
  isTemplatePattern,
  MAX_PATTERN_LENGTH,
  MAX_PATTERN_SHAPES,
  type PatternShape,
} from './compile.ts';
export {
  miniscriptShape,
  type ScriptShape,
  SHAPE_KEY_BYTES,
  type ShapeContext,
  type ShapeValue,
  scriptShape,
  shapeKeyOf,
  templateShape,
} from './shape.ts';
