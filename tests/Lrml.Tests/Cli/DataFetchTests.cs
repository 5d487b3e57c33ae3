using Lrml.Cli;
using Lrml.Data;
using Lrml.Tests.Data;

namespace Lrml.Tests.Cli;

/// <summary><c>lrml data fetch</c> runs the kit's one download script, in a clone or from the tool's embedded copy.</summary>
public sealed class DataFetchTests
{
    private static readonly string? Repo = DataDirectory.FindRepositoryRoot(AppContext.BaseDirectory);

    [Fact]
    public void TheToolsEmbeddedScriptAndChecksumsAreByteForByteTheRepositorys()
    {
        Assert.SkipWhen(Repo is null, "the repository is not beside the test binaries");
        using var t = new TempDir();
        DataFetch.ExtractEmbedded(t.Path);
        Assert.Equal(File.ReadAllBytes(Path.Combine(Repo!, "data-scripts", "fetch.sh")), File.ReadAllBytes(Path.Combine(t.Path, "fetch.sh")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(Repo!, "data-scripts", "checksums.txt")), File.ReadAllBytes(Path.Combine(t.Path, "checksums.txt")));
    }

    [Fact]
    public void TheEmbeddedScriptRunsOutsideAClone()
    {
        using var t = new TempDir();
        string script = DataFetch.ExtractEmbedded(t.Path);
        var (code, output) = ScriptProcess.Bash([script, "--list", "--data-dir", Path.Combine(t.Path, "data")]);
        Assert.True(code == 0, output);
        Assert.Contains("ml-1m-ncf", output);          // the checksums file beside it was found and read
        Assert.False(Directory.Exists(Path.Combine(t.Path, "data")), "listing leaves no empty data folder behind");
    }

    [Fact]
    public void FetchThroughTheCliReportsTheScriptsOutcome()
    {
        using var t = new TempDir();
        var (unknown, said) = LrmlProcess.Run("data", "fetch", "no-such-set", "--data-dir", t.Path);
        Assert.Equal(1, unknown);
        Assert.Contains("unknown dataset 'no-such-set'", said);
        string? real = Environment.GetEnvironmentVariable(DataDirectory.EnvironmentVariable);
        Assert.SkipWhen(real is null || !Directory.Exists(Path.Combine(real, "ml-100k")), "LRML_DATA_DIR with ml-100k is not set: the verified-present case is skipped");
        var (present, text) = LrmlProcess.Run("data", "fetch", "ml-100k", "--data-dir", real!);
        Assert.True(present == 0, text);
        Assert.Contains("already present and verified", text);
    }
}
