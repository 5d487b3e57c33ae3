using Lrml.Data;

namespace Lrml.Tests.Data;

/// <summary>
/// Where tests find real datasets: $LRML_DATA_DIR, else &lt;repository root&gt;/data (never a guessed shared
/// folder). Tests that need a dataset call <see cref="RequireFolder"/>, which skips with a message naming
/// LRML_DATA_DIR when the files are absent.
/// </summary>
internal static class TestData
{
    public static string Root
    {
        get
        {
            string? env = Environment.GetEnvironmentVariable(DataDirectory.EnvironmentVariable);
            if (!string.IsNullOrWhiteSpace(env)) return env;
            string? repo = DataDirectory.FindRepositoryRoot(AppContext.BaseDirectory);
            return Path.Combine(repo ?? Directory.GetCurrentDirectory(), "data");
        }
    }

    /// <summary>The folder of a dataset under <see cref="Root"/>, or a skip when one of its files is missing.</summary>
    public static string RequireFolder(string folder, params string[] files)
    {
        string dir = Path.Combine(Root, folder);
        foreach (var f in files)
            if (!File.Exists(Path.Combine(dir, f)))
                Assert.Skip($"{Path.Combine(dir, f)} not found: set {DataDirectory.EnvironmentVariable} to a data root holding {folder}/ " +
                            $"(or fetch it with data-scripts/fetch.sh {folder}).");
        return dir;
    }
}

/// <summary>A temporary directory deleted on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("lrml-data-test").FullName;

    public string File(string name, string content) => Bytes(name, System.Text.Encoding.UTF8.GetBytes(content));

    public string Bytes(string name, byte[] content)
    {
        string p = System.IO.Path.Combine(Path, name);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(p)!);
        System.IO.File.WriteAllBytes(p, content);
        return p;
    }

    public string Dir(string name)
    {
        string p = System.IO.Path.Combine(Path, name);
        Directory.CreateDirectory(p);
        return p;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
