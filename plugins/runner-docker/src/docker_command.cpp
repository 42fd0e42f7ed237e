#include "docker_command.hpp"

#include <unistd.h>

#include <sstream>

namespace mesh::runner {

bool mountable(const std::string& path) {
  return !path.empty() && path[0] == '/' && path.find_first_of(",:\n") == std::string::npos;
}

std::vector<std::string> docker_run_argv(const DockerJob& j) {
  std::vector<std::string> a = {
      j.docker, "run", "--rm", "--name", j.container, "--label", "mesh.job=" + j.container,
      "--pull", j.pull};
  if (!j.network.empty()) a.insert(a.end(), {"--network", j.network});
  if (!j.user.empty()) a.insert(a.end(), {"--user", j.user});
  a.insert(a.end(), {"--mount", "type=bind,source=" + j.workdir + ",target=/workspace", "--mount",
                     "type=bind,source=" + j.job_dir + ",target=/mesh-job,readonly", "--workdir",
                     "/workspace", "--env-file", j.job_dir + "/env", "--entrypoint", "/bin/sh",
                     "--", j.image, "-e", "/mesh-job/job.sh"});
  return a;
}

std::vector<std::string> docker_kill_argv(const std::string& docker, const std::string& name) {
  return {docker, "kill", "--", name};
}

std::vector<std::string> docker_rm_argv(const std::string& docker, const std::string& name) {
  return {docker, "rm", "-f", "--", name};
}

std::optional<std::string> env_file(const std::vector<std::pair<std::string, std::string>>& env,
                                    const std::vector<std::pair<std::string, std::string>>& secrets,
                                    std::string* why) {
  std::string out;
  auto add = [&](const std::string& n, const std::string& v, const char* what) {
    if (v.find_first_of("\n\r") != std::string::npos) {
      *why = std::string(what) + " " + n +
             " contains a line break, which docker's --env-file cannot carry";
      return false;
    }
    out += n + "=" + v + "\n";
    return true;
  };
  for (const auto& [n, v] : env) {
    if (n == "PATH" || n == "HOME") continue;
    if (!add(n, v, "variable")) return std::nullopt;
  }
  for (const auto& [n, v] : secrets)
    if (!add(n, v, "secret")) return std::nullopt;
  return out;
}

std::optional<std::string> find_program(const std::string& name, const std::string& path_env) {
  if (name.empty()) return std::nullopt;
  if (name.find('/') != std::string::npos)
    return ::access(name.c_str(), X_OK) == 0 && name[0] == '/' ? std::optional(name) : std::nullopt;
  std::stringstream dirs(path_env);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (dir.empty() || dir[0] != '/') continue;
    std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

}  // namespace mesh::runner
