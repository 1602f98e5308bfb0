// Prints the markdown reference of a schema table.
// Usage: node --import tsx packages/bus/src/bin/schema-docs.ts [<module path> <export name>]
// With no arguments it prints the bus's own messages (handshake, status, cancel).
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { schemaMarkdown } from '../schema/docs.ts';
import type { MessageTable, Schema } from '../schema/messages.ts';
import { busMessages } from '../wire.ts';

const [modulePath, exportName] = process.argv.slice(2);
let schema: Schema<MessageTable> = busMessages as unknown as Schema<MessageTable>;
if (modulePath) {
  const mod = (await import(pathToFileURL(resolve(modulePath)).href)) as Record<string, unknown>;
  const found = mod[exportName ?? 'schema'];
  if (!found || typeof found !== 'object' || !('table' in found)) {
    process.stderr.write(`schema-docs: ${modulePath} has no schema export "${exportName ?? 'schema'}"\n`);
    process.exit(2);
  }
  schema = found as Schema<MessageTable>;
}
process.stdout.write(schemaMarkdown(schema));
