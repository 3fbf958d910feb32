export { parseModelConfig, rawBitsPerPixel, totalStride, ConfigError, type ModelConfig, type LevelConfig } from './model/config.js';
export { buildArchitecture, allGraphs, graphMacs, type Architecture } from './model/architecture.js';
export { builtinConfigPath } from './configs.js';
export { train, checkpointDir, type TrainOptions, type TrainEvent, type TrainResult, type StepReport, type ValidationReport } from './train/trainer.js';
export { DqAe } from './tfjs/model.js';
export { exportModel, ExportError, GRAPH_FILES, type ExportManifest, type Weights } from './export/exportModel.js';
export { randomWeights } from './export/randomWeights.js';
