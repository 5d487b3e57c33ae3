using System.Reflection;
using System.Text;
using Lrml.Data;
using Lrml.Util;
using PublicApiGenerator;

namespace Lrml.Tests.Architecture;

/// <summary>
/// The public surface of every kit library is listed in a committed file (PublicApi.&lt;Assembly&gt;.txt next to this
/// test), so a review sees every change of it. A change is accepted by running the tests with
/// LRML_ACCEPT_PUBLIC_API=1, which rewrites the listings, and committing them.
/// </summary>
public sealed class PublicApiTests
{
    /// <summary>The variable that accepts the current public API (rewrites the listings).</summary>
    public const string AcceptVariable = "LRML_ACCEPT_PUBLIC_API";

    /// <summary>The most public types the paper library (src/Lrml) may have: each one a deliberate API for a researcher.</summary>
    public const int MaxLibraryPublicTypes = 90;

    public static TheoryData<string> Libraries() => new("Lrml", "Lrml.Reproduction", "Lrml.Fast", "Lrml.Notebooks");

    /// <summary>The listing of an assembly's public API (no assembly attributes: they carry the build's commit).</summary>
    internal static string Listing(Assembly assembly) =>
        ApiGenerator.GeneratePublicApi(assembly, new ApiGeneratorOptions { IncludeAssemblyAttributes = false })
            .Replace("\r\n", "\n");

    internal static string ListingPath(string assembly)
    {
        string repo = DataDirectory.FindRepositoryRoot(AppContext.BaseDirectory) ?? throw new InvalidOperationException("repository root not found");
        return Path.Combine(repo, "tests", "Lrml.Tests", "Architecture", $"PublicApi.{assembly}.txt");
    }

    [Theory]
    [MemberData(nameof(Libraries))]
    public void The_public_api_matches_the_committed_listing(string assembly)
    {
        string actual = Listing(Assembly.Load(assembly));
        string path = ListingPath(assembly);
        if (Environment.GetEnvironmentVariable(AcceptVariable) == "1")
        {
            AtomicFile.WriteAllText(path, actual);
            return;
        }
        string? expected = File.Exists(path) ? File.ReadAllText(path).Replace("\r\n", "\n") : null;
        if (expected == actual) return;
        string how = $"If the change is intended, run the tests with {AcceptVariable}=1 (rewrites {path}) and commit the file.";
        Assert.Fail(expected is null
            ? $"The public API of {assembly} has no committed listing ({path} is missing). {how}"
            : $"The public API of {assembly} differs from {path} (- committed, + built):\n{ShortDiff(expected, actual)}\n{how}");
    }

    [Fact]
    public void The_paper_library_has_at_most_90_public_types()
    {
        var visible = typeof(Interactions).Assembly.GetTypes().Where(t => t.IsVisible).ToList();
        Assert.True(visible.Count <= MaxLibraryPublicTypes,
            $"src/Lrml has {visible.Count} public types (nested ones included), more than {MaxLibraryPublicTypes}: make internal what a researcher " +
            "does not call from a notebook or their own code.");
        // The count is of the same surface the listing shows (a type in the listing is a public type).
        string listing = Listing(typeof(Interactions).Assembly);
        Assert.All(visible.Where(t => !t.IsNested), t => Assert.Contains(" " + t.Name.Split('`')[0], listing));
    }

    [Fact]
    public void The_short_diff_shows_the_changed_lines_between_common_context()
    {
        string diff = ShortDiff("a\nb\nc\nd\n", "a\nb\nX\nY\nd\n");
        Assert.Equal("  b\n- c\n+ X\n+ Y\n  d", diff);
    }

    /// <summary>
    /// The lines between the common prefix and suffix of two texts: removed lines with "- ", added with "+ ", one
    /// line of context either side, at most <paramref name="max"/> lines of each kind.
    /// </summary>
    internal static string ShortDiff(string expected, string actual, int max = 40)
    {
        string[] a = expected.TrimEnd('\n').Split('\n'), b = actual.TrimEnd('\n').Split('\n');
        int pre = 0;
        while (pre < a.Length && pre < b.Length && a[pre] == b[pre]) pre++;
        int suf = 0;
        while (suf < a.Length - pre && suf < b.Length - pre && a[^(suf + 1)] == b[^(suf + 1)]) suf++;
        var sb = new StringBuilder();
        if (pre > 0) sb.Append("  ").Append(a[pre - 1]).Append('\n');
        AppendLines(sb, "- ", a[pre..(a.Length - suf)], max);
        AppendLines(sb, "+ ", b[pre..(b.Length - suf)], max);
        if (suf > 0) sb.Append("  ").Append(a[^suf]).Append('\n');
        return sb.ToString().TrimEnd('\n');
    }

    private static void AppendLines(StringBuilder sb, string mark, string[] lines, int max)
    {
        foreach (string line in lines.Take(max)) sb.Append(mark).Append(line).Append('\n');
        if (lines.Length > max) sb.Append(mark).Append($"… {lines.Length - max} more lines\n");
    }
}
