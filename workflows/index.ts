// The one entry the workflow bundler sees.
export { cloacinaDag } from './dag-workflow';
export { cloacinaPauseWindow } from './pause-window';
