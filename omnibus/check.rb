#!/usr/bin/env ruby
# frozen_string_literal: true

# The Omnibus project's own check, WITHOUT the omnibus gem (rubygems is unreachable where
# the kit's CI runs): omnibus.rb, the project and every software definition are evaluated
# against a small recording stand-in of Omnibus's DSL — a linter, not a builder. It prints
# one line per finding (the file, the component, the fix) and exits 1 when:
#   - a file does not load (syntax error, a DSL method Omnibus does not have),
#   - a `dependency` names no definition in config/software/, or dependencies form a cycle,
#   - a software has no version, or the source for its version lacks a url or a sha256
#     (64 hex digits), or its internal_source (the Debian mirror) does,
#   - a software has no licence, or no licence file (unless it is the project's own code),
#   - a build step runs a step script that does not exist or is not executable,
#   - a package script (package-scripts/kit/*.j2) is missing or not executable.
# With --plan it prints the build plan as JSON instead: the components in Omnibus's build
# order with their version, source, relative_path, licence and step commands, plus the
# project's identity and `exclude` list — what the kit's here-build (omnibus/build.sh) runs.
#
#   ruby omnibus/check.rb                       # check (the kit's lint runs this)
#   ruby omnibus/check.rb --plan [--sources debian]
# KIT_BUILD_DIR names a rendered build dir (facts.json); without one, the check renders
# nothing and uses stand-in facts.
require "json"
require "optparse"
require "fileutils"
require "tmpdir"

ROOT = File.expand_path(__dir__)
HEX64 = /\A[0-9a-f]{64}\z/
PACKAGE_SCRIPTS = %w[preinst postinst prerm postrm].freeze

# A finding: stops the check with one line.
class Finding < StandardError; end

# Collects findings, keeps going where it can.
module Findings
  @list = []
  class << self
    attr_reader :list

    def add(where, message, fix)
      @list << "#{where}: #{message} — fix: #{fix}"
    end
  end
end

module Omnibus
  # omnibus.rb's settings (Omnibus::Config): each a method taking one value.
  class Config
    SETTINGS = %i[
      base_dir cache_dir git_cache_dir source_dir build_dir package_dir package_tmp
      project_dir software_dir project_root local_software_dirs software_gems
      use_git_caching use_s3_caching s3_bucket s3_access_key s3_secret_key s3_region s3_profile
      s3_iam_role_arn s3_endpoint s3_accelerate s3_authenticated_download
      build_retries fetcher_retries fetcher_read_timeout workers append_timestamp
      fatal_licensing_warnings fatal_transitive_dependency_licensing_warnings
      use_internal_sources health_check windows_arch
    ].freeze
    @values = {}

    class << self
      def values = @values

      def reset!(root)
        @values = { project_root: root, use_internal_sources: false }
      end

      SETTINGS.each do |key|
        define_method(key) { |*args| args.empty? ? @values[key] : (@values[key] = args.first) }
      end
    end

    # The object omnibus.rb is evaluated against.
    class File
      SETTINGS.each do |key|
        define_method(key) { |value| Config.send(key, value) }
      end

      def method_missing(name, *_args)
        raise Finding, "omnibus.rb: `#{name}` is not an Omnibus setting — fix: use one of Omnibus::Config's (base_dir, use_git_caching, …)"
      end

      def respond_to_missing?(*) = false
    end
  end
end

# The project DSL (Omnibus::Project), recording.
class ProjectStub
  SCALARS = %i[
    name friendly_name package_name maintainer homepage description install_dir
    build_version build_iteration build_git_revision license license_file
    license_file_path package_scripts_path resources_path json_manifest_path
    text_manifest_path package_user package_group
  ].freeze
  LISTS = %i[dependency runtime_dependency exclude conflict replace provide extra_package_file config_file].freeze
  attr_reader :values, :lists, :packagers, :overrides, :file

  def initialize(file)
    @file = file
    @values = {}
    @lists = Hash.new { |h, k| h[k] = [] }
    @packagers = {}
    @overrides = {}
  end

  SCALARS.each do |key|
    define_method(key) { |*args| args.empty? ? @values[key] : (@values[key] = args.first) }
  end

  LISTS.each do |key|
    define_method(key) { |value| @lists[key] << value }
  end

  def dependencies = @lists[:dependency]
  def default_root = "/opt"

  def package(id, &block)
    rec = KeyRecorder.new("package :#{id}")
    rec.instance_eval(&block) if block
    @packagers[id] = rec.values
  end

  def compress(id, &block)
    rec = KeyRecorder.new("compress :#{id}")
    rec.instance_eval(&block) if block
  end

  def override(name, value)
    @overrides[name.to_sym] = value
  end

  def method_missing(name, *_args)
    raise Finding, "config/projects/#{File.basename(@file)}: `#{name}` is not Omnibus project DSL — fix: use Omnibus::Project's (name, install_dir, dependency, …)"
  end

  def respond_to_missing?(*) = false
end

# package/compress blocks: key value pairs.
class KeyRecorder
  KEYS = %i[
    vendor license priority section compression_type compression_level signing_passphrase
    category dist_tag license_file level
  ].freeze
  attr_reader :values

  def initialize(where)
    @where = where
    @values = {}
  end

  KEYS.each do |key|
    define_method(key) { |*args| args.empty? ? @values[key] : (@values[key] = args.first) }
  end

  def method_missing(name, *_args)
    raise Finding, "#{@where}: `#{name}` is not an Omnibus packager setting — fix: use the packager's (vendor, section, compression_type, …)"
  end

  def respond_to_missing?(*) = false
end

# The software DSL (Omnibus::Software), recording; `version` blocks run for the final
# version only, as Omnibus runs them.
class SoftwareStub
  attr_reader :file, :values, :source_hash, :internal, :deps, :license_files, :versions, :commands

  def initialize(project, file)
    @project = project
    @file = file
    @values = {}
    @source_hash = nil
    @internal = nil
    @deps = []
    @license_files = []
    @versions = []
    @commands = []
  end

  def where = "config/software/#{File.basename(@file)}"

  %i[name description maintainer relative_path skip_transitive_dependency_licensing whitelist_file].each do |key|
    define_method(key) { |*args| args.empty? ? @values[key] : (@values[key] = args.first) }
  end

  def default_version(value = nil)
    return @values[:default_version] if value.nil?

    @values[:default_version] = value.to_s
  end

  def license(value = nil)
    return @values[:license] if value.nil?

    @values[:license] = value
  end

  def license_file(value)
    @license_files << value
  end

  def dependency(value)
    @deps << value
  end

  def version(value = nil, &block)
    final = (@project.overrides.dig(name&.to_sym, :version) || @values[:default_version]).to_s
    return final if value.nil?

    @versions << value.to_s
    instance_eval(&block) if block && value.to_s == final
  end

  def source(value = nil)
    return @source_hash if value.nil?

    @source_hash = (@source_hash || {}).merge(value)
  end

  def internal_source(value)
    @internal = value
  end

  def build(&block)
    builder = BuilderStub.new(self)
    builder.instance_eval(&block) if block
    @commands = builder.commands
  end

  def project = @project
  def install_dir = @project.install_dir
  def workers = 2

  def method_missing(name, *_args)
    raise Finding, "#{where}: `#{name}` is not Omnibus software DSL — fix: use Omnibus::Software's (name, default_version, version, source, license, …)"
  end

  def respond_to_missing?(*) = false
end

# The build DSL (Omnibus::Builder), recording the commands.
class BuilderStub
  attr_reader :commands

  def initialize(software)
    @software = software
    @commands = []
  end

  def command(cmd, opts = {})
    @commands << { "command" => cmd, "env" => (opts[:env] || {}).transform_keys(&:to_s) }
  end

  %i[make configure delete copy move mkdir touch link sync patch erb appbundle bundle gem rake ruby
     update_config_guess strip].each do |verb|
    define_method(verb) { |*args, **_opts| @commands << { "verb" => verb.to_s, "args" => args.map(&:to_s) } }
  end

  def block(name = "<Dynamic Ruby block>", &_block)
    @commands << { "verb" => "block", "args" => [name] }
  end

  def install_dir = @software.install_dir
  def project_dir = "<project_dir>"
  def workers = 2
  def version = @software.version
  def name = @software.name
  def project = @software.project
  def with_standard_compiler_flags(env = {}, _opts = {}) = env
  def with_embedded_path(env = {}) = env
  def embedded_bin(bin) = "#{install_dir}/embedded/bin/#{bin}"

  def method_missing(name, *_args)
    raise Finding, "#{@software.where}: `#{name}` is not Omnibus build DSL — fix: use Omnibus::Builder's (command, make, copy, delete, …)"
  end

  def respond_to_missing?(*) = false
end

# Stand-in facts when no build dir is rendered: the check is about the definitions' shape.
def stand_in_build_dir
  dir = Dir.mktmpdir("kit-omnibus-check")
  at_exit { FileUtils.rm_rf(dir) }
  facts = {
    "kit_service" => {
      "name" => "stand-in", "version" => "0.0.0", "maintainer" => "Stand In <stand-in@example.com>",
      "homepage" => "https://example.com", "description" => "stand-in", "license" => "MIT",
    },
  }
  File.write(File.join(dir, "facts.json"), JSON.generate(facts))
  dir
end

def load_file(receiver, path)
  receiver.instance_eval(File.read(path), path, 1)
rescue Finding
  raise
rescue SyntaxError, StandardError => e
  raise Finding, "#{path.delete_prefix("#{ROOT}/")} does not load: #{e.message.lines.first.strip} — fix: correct the Ruby"
end

def check_source(software, what, value)
  if !value.is_a?(Hash)
    Findings.add(software.where, "no #{what} for version #{software.version}", "add `#{what} url: …, sha256: …` inside `version \"#{software.version}\" do … end`")
  elsif value.key?(:path)
    nil # a local path: Omnibus hashes its content
  else
    Findings.add(software.where, "#{what} has no url", "give #{what} a url:") unless value[:url].is_a?(String) && !value[:url].empty?
    unless value[:sha256].to_s.match?(HEX64)
      Findings.add(software.where, "#{what} of version #{software.version} has no sha256 (64 hex digits)",
                   "add sha256: (sha256sum of the file at its url)")
    end
  end
end

def check_software(software)
  where = software.where
  Findings.add(where, "no name", "add `name \"#{File.basename(software.file, ".rb")}\"`") if software.name.nil?
  if software.name && software.name != File.basename(software.file, ".rb")
    Findings.add(where, "name #{software.name.inspect} differs from the file name", "Omnibus loads a software by its file name: rename one")
  end
  Findings.add(where, "no default_version", "add `default_version \"X.Y.Z\"`") if software.default_version.nil?
  if software.source.nil? || !software.source.key?(:path)
    unless software.versions.include?(software.version)
      Findings.add(where, "no `version \"#{software.version}\" do … end` block for its version", "pin the source of #{software.version} in a version block")
    end
    check_source(software, "source", software.source)
    check_source(software, "internal_source", software.internal) if software.source.is_a?(Hash)
  end
  Findings.add(where, "no license", "add `license \"<SPDX id>\"`") if software.license.nil?
  if software.license != :project_license && software.license_files.empty?
    Findings.add(where, "no license_file", "name the licence file of the source (license_file \"LICENSE\")")
  end
  software.commands.each do |cmd|
    next unless cmd["command"]

    cmd["command"].scan(%r{(\S+/steps/[\w.-]+\.sh)}).flatten.each do |script|
      if !File.file?(script)
        Findings.add(where, "step script #{script.delete_prefix("#{ROOT}/")} does not exist", "add it under omnibus/steps/")
      elsif !File.executable?(script)
        Findings.add(where, "step script #{script.delete_prefix("#{ROOT}/")} is not executable", "chmod +x it")
      end
    end
  end
end

# Omnibus's build order: dependencies first, depth first, in the order declared; the
# project's own direct dependencies that nothing else needs go last.
def build_order(project, softwares)
  order = []
  visiting = []
  visit = lambda do |name, from|
    return if order.include?(name)

    unless softwares.key?(name)
      Findings.add(from, "dependency \"#{name}\" has no definition", "add config/software/#{name}.rb or fix the name")
      return
    end
    if visiting.include?(name)
      Findings.add(from, "dependency cycle #{(visiting + [name]).join(" → ")}", "break the cycle")
      return
    end
    visiting.push(name)
    softwares[name].deps.each { |dep| visit.call(dep, softwares[name].where) }
    visiting.pop
    order << name
  end
  project.dependencies.each { |dep| visit.call(dep, "config/projects/#{File.basename(project.file)}") }
  needed = order.flat_map { |n| softwares[n].deps }
  head = order.reject { |n| project.dependencies.include?(n) && !needed.include?(n) }
  head + (order - head)
end

options = { plan: false, sources: nil, project: "kit" }
OptionParser.new do |o|
  o.banner = "usage: ruby omnibus/check.rb [--plan] [--sources upstream|debian] [--project NAME]"
  o.on("--plan", "print the build plan as JSON") { options[:plan] = true }
  o.on("--sources WHERE", %w[upstream debian], "which sources the plan names") { |v| options[:sources] = v }
  o.on("--project NAME", "config/projects/NAME.rb") { |v| options[:project] = v }
end.parse!
ENV["KIT_OMNIBUS_SOURCES"] = options[:sources] if options[:sources]
ENV["KIT_BUILD_DIR"] = stand_in_build_dir if ENV.fetch("KIT_BUILD_DIR", "").empty?

begin
  Omnibus::Config.reset!(ROOT)
  load_file(Omnibus::Config::File.new, File.join(ROOT, "omnibus.rb"))
  project_file = File.join(ROOT, "config", "projects", "#{options[:project]}.rb")
  raise Finding, "config/projects/#{options[:project]}.rb not found — fix: name an existing project" unless File.file?(project_file)

  project = ProjectStub.new(project_file)
  load_file(project, project_file)
  %i[name maintainer homepage install_dir build_version].each do |key|
    Findings.add("config/projects/#{options[:project]}.rb", "no #{key}", "set `#{key}` (Omnibus requires it)") if project.values[key].to_s.empty?
  end
  Findings.add("config/projects/#{options[:project]}.rb", "no dependency", "name the top component with `dependency`") if project.dependencies.empty?

  softwares = {}
  Dir[File.join(ROOT, "config", "software", "*.rb")].sort.each do |file|
    software = SoftwareStub.new(project, file)
    load_file(software, file)
    check_software(software)
    softwares[File.basename(file, ".rb")] = software
  end
  order = build_order(project, softwares)

  templates = File.join(ROOT, "package-scripts", "kit")
  PACKAGE_SCRIPTS.each do |script|
    path = File.join(templates, "#{script}.j2")
    if !File.file?(path)
      Findings.add("package-scripts/kit", "#{script}.j2 is missing", "add it (Omnibus packages preinst, postinst, prerm, postrm)")
    elsif !File.executable?(path)
      Findings.add("package-scripts/kit/#{script}.j2", "not executable (the rendered script keeps its mode)", "chmod +x it")
    end
  end
rescue Finding => e
  warn "omnibus/check.rb: #{e.message}"
  exit 1
end

unless Findings.list.empty?
  Findings.list.each { |f| warn "omnibus/check.rb: #{f}" }
  exit 1
end

if options[:plan]
  plan = {
    "project" => project.values.transform_keys(&:to_s),
    "exclude" => project.lists[:exclude],
    "use_internal_sources" => Omnibus::Config.use_internal_sources ? true : false,
    "components" => order.map do |n|
      s = softwares[n]
      src = Omnibus::Config.use_internal_sources && s.internal ? s.internal : s.source
      {
        "name" => n, "version" => s.version, "definition" => s.file,
        "source" => src.transform_keys(&:to_s), "relative_path" => s.relative_path || ".",
        "license" => s.license.to_s, "license_files" => s.license_files,
        "dependencies" => s.deps, "commands" => s.commands,
      }
    end,
  }
  puts JSON.pretty_generate(plan)
else
  puts "omnibus/check.rb: #{softwares.size} software definitions load; build order #{order.join(" → ")}; " \
       "every source pinned (url + sha256, upstream and Debian mirror); package scripts executable"
end
