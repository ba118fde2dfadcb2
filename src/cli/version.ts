/**
 * The version of dchat this program is. Its own module so that `dchat release build` can stamp
 * another one into the single executable (release/build.ts replaces this file in the bundle).
 */
export const VERSION: string = '0.1.0';
