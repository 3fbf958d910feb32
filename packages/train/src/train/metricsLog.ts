import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

/** JSON-lines metrics file: one object per line, written synchronously so a crash loses nothing. */
export class MetricsLog {
  constructor(private readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
  }

  write(record: Record<string, unknown>): void {
    appendFileSync(this.path, JSON.stringify({ time: new Date().toISOString(), ...record }) + '\n');
  }
}
