export { flowJoinProcessorFactory } from './factory.js';
export type { FlowJoinConfig } from './factory.js';
