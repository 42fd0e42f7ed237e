#include "web_assets.hpp"

#include "issues_assets.hpp"

namespace mesh::issues {

std::optional<std::string_view> web_asset(std::string_view name) noexcept {
  const issues_assets::File* f = issues_assets::find(name);
  if (!f) return std::nullopt;
  return f->data();
}

}  // namespace mesh::issues
