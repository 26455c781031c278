// Paths as log lines show them: an invite link's token is a credential, so it never reaches a log.
export const loggedPath = (path: string) => path.replace(/^\/login\/enroll\/[^/]*/, '/login/enroll/<token>');
