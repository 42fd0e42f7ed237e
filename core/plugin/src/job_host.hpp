// What the runner-registry calls of ABI 1.3 share across plugins: the node's jobs::Registry,
// the [runner] policy, where secrets.yml is and the daemon's environment. One per Manager,
// held by every Runtime. Internal to the plugin module (host_jobs.cpp).
#pragma once

#include <filesystem>
#include <mutex>
#include <string>

#include "mesh/config/config.hpp"
#include "mesh/jobs/registry.hpp"
#include "mesh/jobs/secrets.hpp"

namespace mesh::plugin {

struct JobHost {
  JobHost(config::RunnerConfig p, std::filesystem::path secrets, jobs::EnvLookup env)
      : secrets_file(std::move(secrets)), environment(std::move(env)), policy_(std::move(p)) {}

  jobs::Registry registry;
  const std::filesystem::path secrets_file;  // empty: no secrets on this node
  const jobs::EnvLookup environment;
  // Serialises the node-wide max_concurrent_jobs check with the submit it allows.
  std::mutex submit_mu;

  config::RunnerConfig policy() const {
    std::lock_guard lock(mu_);
    return policy_;
  }
  void set_policy(config::RunnerConfig p) {
    std::lock_guard lock(mu_);
    policy_ = std::move(p);
  }

  // runners_json: the local runners as the policy shows them (modes it allows, its labels
  // added, free slots capped by max_concurrent_jobs); with the policy off every runner is
  // listed with "enabled": false and no free slot.
  std::string runners_json() const;

 private:
  mutable std::mutex mu_;
  config::RunnerConfig policy_;
};

}  // namespace mesh::plugin
