import type { DaemonContext } from '@lnpbp/bus';
import type { Bpd, BpdConfig } from '../daemon/main.ts';

/** Starts bpd's query API and push publisher on the bus. */
export async function installApi(_bpd: Bpd, _ctx: DaemonContext<BpdConfig>): Promise<void> {}
