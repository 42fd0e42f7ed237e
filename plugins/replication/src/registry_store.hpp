// The registries on disk: <state_dir>/registry/<repo>.json, one file per repo, replaced
// durably on every change (an event is acknowledged to the bus only after its effect is on
// disk, so a crash loses nothing the bus will not deliver again).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "registry.hpp"

namespace mesh::repl {

std::string registry_to_json(const RepoRegistry& r);
// nullopt with *why for malformed text; every name, value and key is validated.
std::optional<RepoRegistry> registry_from_json(std::string_view text, std::string* why);

class RegistryStore {
 public:
  explicit RegistryStore(std::filesystem::path dir) : dir_(std::move(dir)) {}
  // Every registry on disk, by repo. Unreadable files are skipped and named in *errors.
  std::map<std::string, RepoRegistry> load_all(std::string* errors) const;
  bool save(const std::string& repo, const RepoRegistry& r, std::string* err) const;
  bool exists(const std::string& repo) const;

 private:
  std::filesystem::path file(const std::string& repo) const { return dir_ / (repo + ".json"); }
  std::filesystem::path dir_;
};

}  // namespace mesh::repl
