# mesh_add_plugin() and mesh_install_plugin(): the one way mesh plugins are built, in-tree
# (first-party and test plugins) and by third parties through find_package(meshSDK).
include_guard(GLOBAL)
include(GNUInstallDirs)

# mesh_add_plugin(<target> ID <id> VERSION <version> SOURCES <src>...
#                 [OUTPUT_DIRECTORY <dir>] [NO_VERSION_SCRIPT])
#
# Makes a MODULE library <id>.so (no "lib" prefix) with hidden visibility, a version script
# exporting only mesh_plugin_entry and -Wl,-z,defs, and writes the manifest <id>.json beside
# it after every link: {id, version, abi, library, sha256}. Link extra libraries with
# target_link_libraries(<target> PRIVATE ...) as usual. NO_VERSION_SCRIPT exists only for
# the SDK's own broken test plugins.
function(mesh_add_plugin target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "NO_VERSION_SCRIPT" "ID;VERSION;OUTPUT_DIRECTORY" "SOURCES")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "mesh_add_plugin(${target}): unknown arguments ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT arg_ID MATCHES "^[a-z0-9][a-z0-9-]*$")
    message(FATAL_ERROR "mesh_add_plugin(${target}): ID '${arg_ID}' must match [a-z0-9][a-z0-9-]{0,63}")
  endif()
  string(LENGTH "${arg_ID}" id_len)
  if(id_len GREATER 64)
    message(FATAL_ERROR "mesh_add_plugin(${target}): ID '${arg_ID}' is longer than 64 characters")
  endif()
  if(NOT arg_VERSION MATCHES "^[0-9A-Za-z][0-9A-Za-z.+~-]*$")
    message(FATAL_ERROR "mesh_add_plugin(${target}): VERSION '${arg_VERSION}' must match [0-9A-Za-z][0-9A-Za-z.+~-]*")
  endif()
  string(LENGTH "${arg_VERSION}" ver_len)
  if(ver_len GREATER 64)
    message(FATAL_ERROR "mesh_add_plugin(${target}): VERSION is longer than 64 characters")
  endif()
  if(NOT arg_SOURCES)
    message(FATAL_ERROR "mesh_add_plugin(${target}): SOURCES are required")
  endif()

  set(out_dir "${arg_OUTPUT_DIRECTORY}")
  if(NOT out_dir)
    get_property(out_dir GLOBAL PROPERTY MESH_PLUGIN_OUTPUT_DIRECTORY)
  endif()
  if(NOT out_dir)
    set(out_dir "${CMAKE_CURRENT_BINARY_DIR}")
  endif()
  get_property(abi GLOBAL PROPERTY MESH_SDK_ABI_VERSION)
  if(NOT abi)
    message(FATAL_ERROR "mesh_add_plugin: the meshSDK package did not set its ABI version")
  endif()

  add_library(${target} MODULE ${arg_SOURCES})
  target_link_libraries(${target} PRIVATE meshSDK::sdk)
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    OUTPUT_NAME "${arg_ID}"
    SUFFIX ".so"
    # The $<0:> keeps multi-config generators from adding a per-config subdirectory.
    LIBRARY_OUTPUT_DIRECTORY "${out_dir}$<0:>"
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    POSITION_INDEPENDENT_CODE ON
    MESH_PLUGIN_ID "${arg_ID}"
    MESH_PLUGIN_VERSION "${arg_VERSION}")
  # Every symbol must resolve at link time: a plugin links against nothing from the daemon.
  target_link_options(${target} PRIVATE "LINKER:-z,defs")
  if(NOT arg_NO_VERSION_SCRIPT)
    set(map "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/mesh_plugin.map")
    target_link_options(${target} PRIVATE "LINKER:--version-script=${map}")
    set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS "${map}")
  endif()

  add_custom_command(TARGET ${target} POST_BUILD
    COMMAND "${CMAKE_COMMAND}"
      "-DLIB=$<TARGET_FILE:${target}>"
      "-DID=${arg_ID}"
      "-DVERSION=${arg_VERSION}"
      "-DABI=${abi}"
      "-DOUT=$<TARGET_FILE_DIR:${target}>/${arg_ID}.json"
      -P "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/meshSDKManifest.cmake"
    BYPRODUCTS "${out_dir}/${arg_ID}.json"
    COMMENT "Writing plugin manifest ${arg_ID}.json"
    VERBATIM)
endfunction()

# mesh_install_plugin(<target> [DESTINATION <dir>] [COMPONENT <component>])
#
# Installs <id>.so and <id>.json, by default into ${CMAKE_INSTALL_LIBDIR}/mesh/plugins (the
# daemon's default search directory beside its prefix). The .so is copied byte for byte
# (install(FILES), no RPATH rewriting or stripping) so the manifest's sha256 stays true.
function(mesh_install_plugin target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "DESTINATION;COMPONENT" "")
  get_target_property(id ${target} MESH_PLUGIN_ID)
  if(NOT id)
    message(FATAL_ERROR "mesh_install_plugin(${target}): not a target made by mesh_add_plugin")
  endif()
  if(NOT arg_DESTINATION)
    set(arg_DESTINATION "${CMAKE_INSTALL_LIBDIR}/mesh/plugins")
  endif()
  set(component_args)
  if(arg_COMPONENT)
    set(component_args COMPONENT "${arg_COMPONENT}")
  endif()
  install(FILES "$<TARGET_FILE:${target}>" "$<TARGET_FILE_DIR:${target}>/${id}.json"
    DESTINATION "${arg_DESTINATION}"
    PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
    ${component_args})
endfunction()
