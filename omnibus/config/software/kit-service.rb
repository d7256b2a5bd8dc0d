# The service: its hash-checked wheelhouse (the wheel layer's, for the embedded Python's
# version and this CPU) installed into the embedded Python, offline, plus the runtime files
# every systemd layer shares (unit, sysusers, tmpfiles, default config) for the package
# scripts to put in place. Steps: omnibus/steps/kit-service.sh
require_relative "../../lib/kit_omnibus"

svc = KitOmnibus.service

name "kit-service"
default_version svc.fetch("version")
# The project's own code: its licence is the project's (kit.toml [service] license).
license :project_license
skip_transitive_dependency_licensing true

dependency "python"

# The kit's build dir: the wheelhouse (wheel/build.sh, hash-checked, pinned pip beside it)
# and the rendered runtime files. A local path: Omnibus hashes its content for the cache.
source path: KitOmnibus.build_dir

v = version
build do
  command KitOmnibus.step("kit-service"), env: KitOmnibus.service_env(install_dir, v, workers)
end
