// The board's files compiled into the plugin (templates, board.js, board.css: mesh_embed in
// CMakeLists.txt), by file name. The generated header stays private to this library.
#pragma once

#include <optional>
#include <string_view>

namespace mesh::issues {

std::optional<std::string_view> web_asset(std::string_view name) noexcept;

}  // namespace mesh::issues
