# frozen_string_literal: true

# What every definition of this Omnibus project shares, in one place:
#   - the service's identity, read from the facts the kit renders from kit.toml
#     (<build dir>/facts.json: `./kit render omnibus`), never typed into a definition;
#   - where the sources come from: upstream by default; Debian's archive when
#     KIT_OMNIBUS_SOURCES=debian (omnibus.rb turns on Omnibus's `use_internal_sources`, and
#     each definition's `internal_source` names the Debian orig tarball with its own sha256);
#   - the step scripts (omnibus/steps/<software>.sh): a component's build commands live in
#     its step script, which Omnibus runs from the software definition and the kit's
#     here-build (omnibus/build.sh) runs in the same order — one recipe, two runners.
require "json"

module KitOmnibus
  ROOT = File.expand_path("..", __dir__) # omnibus/

  module_function

  # The kit's build dir for this build (KIT_BUILD_DIR; `./kit render omnibus` prints it).
  def build_dir
    dir = ENV.fetch("KIT_BUILD_DIR", nil)
    raise "KIT_BUILD_DIR is not set — fix: ./kit render omnibus, then KIT_BUILD_DIR=<the dir it names>" if dir.nil? || dir.empty?

    dir
  end

  # kit.toml's facts about the service (name, version, user, paths …), as rendered.
  def facts
    @facts ||= begin
      path = File.join(build_dir, "facts.json")
      raise "#{path} not found — fix: ./kit render omnibus" unless File.file?(path)

      JSON.parse(File.read(path))
    end
  end

  def service
    facts.fetch("kit_service")
  end

  # Debian's archive (kit.toml [targets] mirror), for the orig tarballs.
  def debian(pool_path)
    "#{ENV.fetch("KIT_DEBIAN_MIRROR", "http://deb.debian.org/debian").chomp("/")}/#{pool_path}"
  end

  # Whether this build takes its sources from Debian's archive (omnibus.rb reads it too).
  def debian_sources?
    ENV.fetch("KIT_OMNIBUS_SOURCES", "upstream") == "debian"
  end

  # The command that runs a component's step script.
  def step(software)
    "bash #{File.join(ROOT, "steps", "#{software}.sh")}"
  end

  # The environment every step script reads (omnibus/steps/lib.sh derives the compiler
  # flags from it, so Omnibus and the here-build compile with the same flags).
  def step_env(install_dir, version, workers)
    {
      "KIT_INSTALL_DIR" => install_dir,
      "KIT_EMBEDDED" => File.join(install_dir, "embedded"),
      "KIT_COMPONENT_VERSION" => version.to_s,
      "KIT_JOBS" => workers.to_s,
    }
  end

  # step_env + the kit's build dir (kit.env, the wheelhouse, the rendered runtime files):
  # only the service's step reads it. Kept out of the other components' environment, so
  # their build-cache keys do not change with the service's version (omnibus/here_build.py).
  def service_env(install_dir, version, workers)
    step_env(install_dir, version, workers).merge("KIT_BUILD_DIR" => build_dir)
  end
end
