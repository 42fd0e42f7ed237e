// Careful reading of a yaml-cpp document: every node visited is counted (an alias counts each
// time it is reached, so anchors cannot multiply work), nesting is bounded (an alias may even
// point at its own ancestor), map keys must be unique strings from a known set, and each
// complaint carries the line and column it is about. Shared by mesh-ci.yml and secrets.yml.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mesh::ci {

struct Diagnostic {
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based; 0 when unknown
  std::string message;
};

class Diagnostics {
 public:
  explicit Diagnostics(std::size_t cap) : cap_(cap) {}
  void add(const YAML::Mark& mark, std::string message);
  bool empty() const { return list_.empty(); }
  bool full() const { return list_.size() >= cap_; }
  // Sorted by position.
  std::vector<Diagnostic> sorted() const;
  // "file:line:col: message" lines, by position, with a count of what did not fit.
  std::string text(std::string_view file) const;

 private:
  std::size_t cap_;
  std::size_t dropped_ = 0;
  std::vector<Diagnostic> list_;
};

// Loads exactly one YAML document from text (refusing a second one, which yaml-cpp would
// silently drop). nullopt after recording the syntax error.
std::optional<YAML::Node> load_single_document(std::string_view text, Diagnostics& diags);

class YamlWalker {
 public:
  YamlWalker(Diagnostics& diags, std::size_t max_nodes, std::size_t max_depth)
      : diags_(diags), max_nodes_(max_nodes), max_depth_(max_depth) {}

  // Counts one visit at this depth. false (the error recorded once) when the node budget or
  // the depth is exhausted; the caller then stops descending.
  bool visit(const YAML::Node& node, std::size_t depth);
  bool exhausted() const { return exhausted_; }

  // A plain or quoted scalar. Records "<what>: expected a string" otherwise. `at` is where to
  // point when the node itself has no position (an empty value).
  std::optional<std::string> string(const YAML::Node& node, const YAML::Mark& at,
                                    std::string_view what);
  // true / false (also True, TRUE, False, FALSE).
  std::optional<bool> boolean(const YAML::Node& node, const YAML::Mark& at, std::string_view what);
  // Records an error unless node is a map / a sequence.
  bool expect_map(const YAML::Node& node, const YAML::Mark& at, std::string_view what);
  bool expect_sequence(const YAML::Node& node, const YAML::Mark& at, std::string_view what);

  // A sequence of strings, each checked by `check` (returns an error message or "").
  std::optional<std::vector<std::string>> string_list(
      const YAML::Node& node, const YAML::Mark& at, std::string_view what, std::size_t depth,
      std::size_t max_items, const std::function<std::string(const std::string&)>& check);

  using EntryFn = std::function<void(const std::string& key, const YAML::Node& key_node,
                                     const YAML::Node& value)>;
  // Iterates a map whose keys are strings, refusing duplicate keys and (when `allowed` is not
  // empty) keys outside it, with a "did you mean" hint. max_entries bounds the map.
  void entries(const YAML::Node& map, std::size_t depth, std::string_view what,
               std::initializer_list<std::string_view> allowed, std::size_t max_entries,
               const EntryFn& fn);

  void error(const YAML::Mark& at, std::string message) { diags_.add(at, std::move(message)); }

 private:
  Diagnostics& diags_;
  std::size_t max_nodes_;
  std::size_t max_depth_;
  std::size_t visited_ = 0;
  bool exhausted_ = false;
};

// The mark of node, or `fallback` when yaml-cpp has none for it (null nodes).
YAML::Mark mark_of(const YAML::Node& node, const YAML::Mark& fallback);

}  // namespace mesh::ci
