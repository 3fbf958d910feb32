/** Image quality and rate–distortion metrics (pure functions, no Node APIs). */
export { mse, psnr } from './psnr.js';
export { msSsim, msSsimDb, gaussianWindow, MSSSIM_MIN_SIZE, MSSSIM_WEIGHTS } from './msssim.js';
export { bdRate, pchip, qualityAtRate, type Pchip, type RateRange, type RdPoint } from './rd.js';
