/**
 * The version of dchat this program is. Its own module so that `dchat release build` can stamp
 * another one into the single executable (release/build.ts replaces this file in the bundle).
 */
export const VERSION: string = '0.1.0';

/**
 * True only in a deliberately broken test build (`release build --test-never-healthy`): its node
 * runs but never reports healthy, so upgrade tests can watch every supervisor roll it back.
 */
export const NEVER_HEALTHY: boolean = false;
