# frozen_string_literal: true

# A stand-in for Homebrew's Formula DSL, for matrix's Homebrew renderer tests.
#
# It loads a generated formula, records what the formula declares (url and
# sha256 per on_macos/on_linux x on_arm/on_intel block, every `def install`
# and what it installs, the test block's calls, caveats) and prints that as
# JSON. Unlike Homebrew, every on_* block runs, so all targets are recorded
# at once; a key set twice in one block, or an on_* block nested in one of
# its own kind, is an error.
#
# Usage: ruby formula_harness.rb FORMULA.rb CLASS_NAME

require "json"

# Records `install` calls on bin, man1, bash_completion, ...
class InstallDir
  def initialize(name, log)
    @name = name
    @log = log
  end

  def install(*paths)
    paths.each do |path|
      if path.is_a?(Hash)
        path.each { |from, to| @log << [@name, from.to_s, to.to_s] }
      else
        @log << [@name, path.to_s, File.basename(path.to_s)]
      end
    end
  end

  def /(other)
    "#{@name}/#{other}"
  end

  def to_s
    @name
  end
end

# The DSL subset matrix's formulae use.
class Formula
  SCALARS = %w[desc homepage version license].freeze

  class << self
    attr_reader :record, :test_block

    def inherited(subclass)
      super
      subclass.instance_variable_set(:@record, { "blocks" => {}, "installs" => {}, "depends_on" => [] })
      subclass.instance_variable_set(:@scope, {})
    end

    SCALARS.each do |key|
      define_method(key) do |value|
        raise "#{key} given twice" if @record.key?(key)

        @record[key] = value
      end
    end

    def on_macos(&block) = within(:os, "macos", &block)
    def on_linux(&block) = within(:os, "linux", &block)
    def on_arm(&block) = within(:cpu, "arm", &block)
    def on_intel(&block) = within(:cpu, "intel", &block)

    def url(value, **_options) = block_set("url", value)
    def sha256(value) = block_set("sha256", value)

    def depends_on(dependency)
      @record["depends_on"] << dependency.to_s
    end

    def test(&block)
      raise "test given twice" if @test_block

      @test_block = block
    end

    # `def install` inside an on_* block belongs to that block.
    def method_added(name)
      super
      return unless name == :install

      key = scope_key
      raise "install defined twice in #{key}" if @record["installs"].key?(key)

      @record["installs"][key] = instance_method(:install)
    end

    private

    def within(kind, value)
      raise "on_#{value} inside on_#{@scope[kind]}" if @scope.key?(kind)

      @scope[kind] = value
      yield
    ensure
      @scope.delete(kind) if @scope[kind] == value
    end

    def scope_key
      "#{@scope.fetch(:os, "any")}/#{@scope.fetch(:cpu, "any")}"
    end

    def block_set(key, value)
      block = (@record["blocks"][scope_key] ||= {})
      raise "#{key} given twice in #{scope_key}" if block.key?(key)

      block[key] = value
    end
  end

  attr_reader :log

  def initialize
    @log = []
  end

  def bin = InstallDir.new("bin", @log)
  def bash_completion = InstallDir.new("bash_completion", @log)
  def zsh_completion = InstallDir.new("zsh_completion", @log)
  def fish_completion = InstallDir.new("fish_completion", @log)

  (1..8).each do |section|
    define_method("man#{section}") { InstallDir.new("man#{section}", @log) }
  end

  def version = self.class.record.fetch("version")

  def shell_output(command, _status = 0)
    @log << ["shell_output", command]
    # What a well-behaved `--version` prints.
    "#{File.basename(command.split.first)} #{version}\n"
  end

  def system(*args)
    @log << ["system", *args.map(&:to_s)]
    true
  end

  def assert_match(expected, actual)
    pattern = expected.is_a?(Regexp) ? expected : Regexp.new(Regexp.escape(expected))
    raise "#{actual.inspect} does not match #{pattern.inspect}" unless actual.match?(pattern)

    @log << ["assert_match", expected.to_s]
  end

  def assert_predicate(object, predicate)
    @log << ["assert_predicate", object.to_s, predicate.to_s]
  end
end

formula_path, class_name = ARGV
raise "usage: ruby formula_harness.rb FORMULA.rb CLASS_NAME" unless formula_path && class_name

load File.expand_path(formula_path)
klass = Object.const_get(class_name)
raise "#{class_name} is not a Formula" unless klass < Formula

result = klass.record.reject { |key, _| key == "installs" }
result["installs"] = klass.record["installs"].transform_values do |method|
  formula = klass.new
  method.bind(formula).call
  formula.log
end
result["caveats"] = klass.new.caveats if klass.method_defined?(:caveats)
if klass.test_block
  formula = klass.new
  formula.instance_eval(&klass.test_block)
  result["test"] = formula.log
end
puts JSON.pretty_generate(result)
