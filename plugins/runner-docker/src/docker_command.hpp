// The docker CLI invocations of runner-docker, built as argv vectors (never a shell string):
// `docker run --rm` with the worktree mounted at /workspace, the job script mounted read-only,
// an --env-file for the job's variables and secrets, and `docker kill`/`rm -f` on cancel.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mesh::runner {

struct DockerJob {
  std::string docker;     // the CLI, an absolute path
  std::string container;  // a name unique on this machine
  std::string image;
  std::string workdir;  // host path mounted at /workspace
  std::string job_dir;  // host path holding job.sh and env, mounted at /mesh-job
  std::string network;  // empty: the engine's default
  std::string pull;     // missing | never | always
  std::string user;     // "uid:gid" the container runs as
};

std::vector<std::string> docker_run_argv(const DockerJob& job);
std::vector<std::string> docker_kill_argv(const std::string& docker, const std::string& name);
std::vector<std::string> docker_rm_argv(const std::string& docker, const std::string& name);

// The --env-file text for the container: the job's variables (but PATH and HOME, which belong
// to the image) and its secrets, one NAME=value per line. nullopt and *why when a value cannot
// be written there (a newline), naming the variable but never the value.
std::optional<std::string> env_file(const std::vector<std::pair<std::string, std::string>>& env,
                                    const std::vector<std::pair<std::string, std::string>>& secrets,
                                    std::string* why);

// A host path docker can mount as given (absolute, no ',' or ':' that --mount/-v would split).
bool mountable(const std::string& path);

// Finds `name` in PATH (or checks an absolute path); nullopt if it is not an executable file.
std::optional<std::string> find_program(const std::string& name, const std::string& path_env);

}  // namespace mesh::runner
