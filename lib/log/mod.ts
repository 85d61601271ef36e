/** Logging with one IP scrubber used everywhere. @module */
export { scrub } from "./scrub.ts";
export { fileSink, flagLogger, Logger, type LoggerOptions, writeStderr } from "./logger.ts";
