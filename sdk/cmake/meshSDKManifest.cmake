# Writes <id>.json beside a built plugin: cmake -DLIB=<path.so> -DID=<id> -DVERSION=<v>
#   -DABI=<major.minor> -DOUT=<path.json> -P meshSDKManifest.cmake
# Run after every link, so the sha256 always describes the .so next to it.
foreach(var LIB ID VERSION ABI OUT)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "meshSDKManifest: ${var} is required")
  endif()
endforeach()
if(NOT EXISTS "${LIB}")
  message(FATAL_ERROR "meshSDKManifest: ${LIB} does not exist")
endif()
file(SHA256 "${LIB}" sha)
get_filename_component(name "${LIB}" NAME)
# ID and VERSION were validated by mesh_add_plugin against strict patterns: no escaping needed.
set(json "{\n  \"id\": \"${ID}\",\n  \"version\": \"${VERSION}\",\n  \"abi\": \"${ABI}\",\n  \"library\": \"${name}\",\n  \"sha256\": \"${sha}\"\n}\n")
# Write via a temporary file so a reader never sees half a manifest.
file(WRITE "${OUT}.tmp" "${json}")
file(RENAME "${OUT}.tmp" "${OUT}")
