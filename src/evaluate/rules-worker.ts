/**
 * Worker thread entry (see rules-thread.ts): takes each job the main thread hands over,
 * unless the main thread took it first, until it is ended. It loads the passes alone.
 */
import { threadInput } from '../util/worker.js';
import { takeJob, type RulesJob } from './rules-thread.js';

await threadInput<null, RulesJob>(takeJob);
