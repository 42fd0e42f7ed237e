// The grammars of every name the ci plugin accepts from a pipeline, a record or a heartbeat.
// A name that passes is safe as a JSON string, a log line, a path component (jobs) and an argv
// item (images never start with '-').
#pragma once

#include <string_view>

namespace mesh::ci {

// [A-Za-z0-9][A-Za-z0-9_-]{0,63}
bool valid_job_name(std::string_view s);
// [a-z][a-z0-9-]{0,31}: "shell", "docker", or a third-party runner's own mode.
bool valid_mode(std::string_view s);
// [A-Za-z0-9][A-Za-z0-9._-]{0,63}
bool valid_label(std::string_view s);
// [A-Z_][A-Z0-9_]{0,63}, as in secrets.yml.
bool valid_secret_name(std::string_view s);
// [A-Za-z_][A-Za-z0-9_]{0,63}: a portable environment variable name.
bool valid_env_name(std::string_view s);
// [A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}: "localhost/busybox", "debian:12", "x@sha256:...".
bool valid_image(std::string_view s);
// [a-z0-9][a-z0-9-]{0,31}, as mesh_runner.name.
bool valid_runner_name(std::string_view s);
// Printable ASCII or UTF-8 without control bytes, 1..64 bytes (shown, never interpreted).
bool valid_pipeline_name(std::string_view s);
// [A-Za-z0-9][A-Za-z0-9._-]{0,99}, no "..", not ending in ".git"/".lock" (the repo grammar).
bool valid_repo_name(std::string_view s);
// "refs/heads/..." or "refs/tags/..." per git-check-ref-format, at most 255 bytes, no
// component starting with '-'.
bool valid_ref(std::string_view s);
// 40 lower-case hex digits.
bool valid_sha(std::string_view s);
// "mesh:" + 52 lower-case base32 characters.
bool valid_node_id(std::string_view s);
// 64 lower-case hex digits (a run id).
bool valid_run_id(std::string_view s);

// "main" for "refs/heads/main"; empty for anything that is not a branch (tags included).
std::string_view branch_of(std::string_view ref);

}  // namespace mesh::ci
