/** main.ts runs the light tree (no @dqcodec/train) unless train/export is asked for: both must print the same help. */
import { describe, expect, it } from 'vitest';
import { createLightProgram, needsTrainCommands } from '../src/lightProgram.js';
import { createProgram } from '../src/program.js';

describe('light command tree', () => {
  it('prints the same top-level help as the full tree', () => {
    expect(createLightProgram().helpInformation()).toBe(createProgram().helpInformation());
  });

  it('routes train and export (and help on them) to the full tree, nothing else', () => {
    expect(needsTrainCommands(['train', '--config', 'tiny'])).toBe(true);
    expect(needsTrainCommands(['export', 'runs/x', '-o', 'm'])).toBe(true);
    expect(needsTrainCommands(['help', 'export'])).toBe(true);
    expect(needsTrainCommands(['--help'])).toBe(false);
    expect(needsTrainCommands([])).toBe(false);
    expect(needsTrainCommands(['encode', 'train.jpg', '-o', 'export.dqc'])).toBe(false);
    expect(needsTrainCommands(['help', 'encode'])).toBe(false);
  });
});
