process.env.SESSION_SECRET ??= "test-session-secret-not-for-production";
process.env.LOG_LEVEL ??= "silent";
