using System.Diagnostics;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using Lrml.Data;

namespace Lrml.Tests.Data;

/// <summary>
/// data-scripts/fetch.sh against a local file:// "server" (no network): fresh fetch, idempotent re-run, resumed
/// partial download, truncated and corrupt downloads, corrupt archive, extracted-file pins, --force. Skipped
/// when bash, curl or unzip is missing.
/// </summary>
public class FetchScriptTests
{
    private static readonly string? Repo = DataDirectory.FindRepositoryRoot(AppContext.BaseDirectory);
    private static string Script => Path.Combine(Repo!, "data-scripts", "fetch.sh");

    private static void RequireTools()
    {
        if (Repo is null || !File.Exists(Script)) Assert.Skip("data-scripts/fetch.sh not found next to the test assembly's repository");
        foreach (var tool in new[] { "bash", "curl", "unzip", "sha256sum" })
            if (!OnPath(tool)) Assert.Skip($"{tool} is not installed; fetch.sh cannot be tested here");
    }

    private static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => File.Exists(Path.Combine(d, tool)));

    private sealed record Run(int Exit, string Output);

    private static Run Fetch(params string[] args)
    {
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Script);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment.Remove(DataDirectory.EnvironmentVariable);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000)) { p.Kill(true); throw new TimeoutException("fetch.sh did not finish in 2 minutes"); }
        return new Run(p.ExitCode, stdout.Result + stderr.Result);
    }

    private static string Sha(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    /// <summary>A small fake ml-100k archive ("ml-100k/u.data, u.item, u.genre") in <paramref name="server"/>.</summary>
    private static string MakeMl100kZip(string server, int lines = 3000)
    {
        Directory.CreateDirectory(server);
        string zip = Path.Combine(server, "ml-100k.zip");
        using var z = ZipFile.Open(zip, ZipArchiveMode.Create);
        var data = new StringBuilder();
        var rng = new Lrml.Util.Rng(5, "fetch-test");
        for (int k = 0; k < lines; k++) data.Append($"{1 + rng.NextInt(50)}\t{1 + rng.NextInt(40)}\t{1 + rng.NextInt(5)}\t{881250949 + rng.NextInt(1_000_000)}\n");
        Add(z, "ml-100k/u.data", data.ToString());
        string flags = string.Join("|", Enumerable.Repeat("0", 18));
        Add(z, "ml-100k/u.item", string.Concat(Enumerable.Range(1, 40).Select(i => $"{i}|Movie {i} (1995)|01-Jan-1995||http://x|1|{flags}\n")));
        Add(z, "ml-100k/u.genre", string.Concat(MovieLens100K.DefaultGenres.Select((g, i) => $"{g}|{i}\n")) + "\n");
        return zip;
    }

    private static void Add(ZipArchive z, string name, string text)
    {
        using var s = z.CreateEntry(name, CompressionLevel.Optimal).Open();
        s.Write(Encoding.Latin1.GetBytes(text));
    }

    /// <summary>A checksums file pinning the given archive (real size and SHA-256) plus extra lines.</summary>
    private static string Checksums(string dir, string dataset, string archive, params string[] extra)
    {
        string path = Path.Combine(dir, $"checksums-{Guid.NewGuid():N}.txt");
        var lines = new List<string> { "# test pins", $"{dataset} archive {Path.GetFileName(archive)} sha256 {Sha(archive)} {new FileInfo(archive).Length}" };
        lines.AddRange(extra);
        File.WriteAllLines(path, lines);
        return path;
    }

    private static string[] Leftovers(string dataDir) =>
        Directory.Exists(dataDir) ? Directory.GetDirectories(dataDir, ".fetch-*", SearchOption.AllDirectories) : [];

    [Fact]
    public void FreshFetchInstallsVerifiedDataAndRerunIsIdempotent()
    {
        RequireTools();
        using var t = new TempDir();
        string zip = MakeMl100kZip(Path.Combine(t.Path, "server"));
        string data = Path.Combine(t.Path, "data");
        string sums;
        using (var z = ZipFile.OpenRead(zip))
        {
            z.GetEntry("ml-100k/u.data")!.ExtractToFile(Path.Combine(t.Path, "u.data"));
            sums = Checksums(t.Path, "ml-100k", zip, $"ml-100k file u.data sha256 {Sha(Path.Combine(t.Path, "u.data"))} {new FileInfo(Path.Combine(t.Path, "u.data")).Length}");
        }
        string[] common = ["ml-100k", "--data-dir", data, "--base-url", "file://" + Path.Combine(t.Path, "server"), "--checksums", sums];

        var first = Fetch(common);
        Assert.True(first.Exit == 0, first.Output);
        Assert.Contains("ml-100k is ready", first.Output);
        Assert.Contains("Never commit", first.Output);
        var d = MovieLens100K.Read(Path.Combine(data, "ml-100k"));
        Assert.Equal(3000, d.Count);
        Assert.True(File.Exists(Path.Combine(data, ".downloads", "ml-100k.zip")));
        Assert.False(File.Exists(Path.Combine(data, ".downloads", "ml-100k.zip.part")));
        Assert.Empty(Leftovers(data));
        Assert.Equal(d.Count, Datasets.Load("ml-100k", new DataDirectory(data)).Count);

        var again = Fetch(common);
        Assert.Equal(0, again.Exit);
        Assert.Contains("already present and verified", again.Output);
        Assert.DoesNotContain("downloading", again.Output);

        // a damaged installed file is reported, left alone without --force, and replaced with it
        File.AppendAllText(Path.Combine(data, "ml-100k", "u.data"), "1\t1\t1\t1\n");
        var damaged = Fetch(common);
        Assert.Equal(1, damaged.Exit);
        Assert.Contains("does not verify", damaged.Output);
        Assert.Contains("u.data", damaged.Output);
        var forced = Fetch([.. common, "--force"]);
        Assert.True(forced.Exit == 0, forced.Output);
        Assert.Contains("using verified ml-100k.zip", forced.Output);   // no new download
        Assert.Equal(3000, MovieLens100K.Read(Path.Combine(data, "ml-100k")).Count);
        Assert.Empty(Leftovers(data));
    }

    [Fact]
    public void PartialDownloadIsResumed()
    {
        RequireTools();
        using var t = new TempDir();
        string zip = MakeMl100kZip(Path.Combine(t.Path, "server"));
        string data = Path.Combine(t.Path, "data");
        string sums = Checksums(t.Path, "ml-100k", zip);
        byte[] all = File.ReadAllBytes(zip);
        Directory.CreateDirectory(Path.Combine(data, ".downloads"));
        File.WriteAllBytes(Path.Combine(data, ".downloads", "ml-100k.zip.part"), all[..(all.Length / 2)]);
        var r = Fetch("ml-100k", "--data-dir", data, "--base-url", "file://" + Path.Combine(t.Path, "server"), "--checksums", sums);
        Assert.True(r.Exit == 0, r.Output);
        Assert.Contains($"resuming ml-100k.zip at byte {all.Length / 2}", r.Output);
        Assert.Equal(all, File.ReadAllBytes(Path.Combine(data, ".downloads", "ml-100k.zip")));
        Assert.True(File.Exists(Path.Combine(data, "ml-100k", "u.data")));
    }

    [Fact]
    public void TruncatedDownloadIsKeptForResumeAndNothingIsInstalled()
    {
        RequireTools();
        using var t = new TempDir();
        string zip = MakeMl100kZip(Path.Combine(t.Path, "server"));
        string sums = Checksums(t.Path, "ml-100k", zip);
        byte[] all = File.ReadAllBytes(zip);
        string truncated = Path.Combine(t.Path, "truncated");
        Directory.CreateDirectory(truncated);
        File.WriteAllBytes(Path.Combine(truncated, "ml-100k.zip"), all[..(all.Length / 3)]);
        string data = Path.Combine(t.Path, "data");
        var r = Fetch("ml-100k", "--data-dir", data, "--base-url", "file://" + truncated, "--checksums", sums);
        Assert.Equal(1, r.Exit);
        Assert.Contains("incomplete download", r.Output);
        Assert.Contains("resume", r.Output);
        Assert.False(Directory.Exists(Path.Combine(data, "ml-100k")));
        Assert.Equal(all.Length / 3, new FileInfo(Path.Combine(data, ".downloads", "ml-100k.zip.part")).Length);
        // the server is fixed: the same command resumes and completes
        var ok = Fetch("ml-100k", "--data-dir", data, "--base-url", "file://" + Path.Combine(t.Path, "server"), "--checksums", sums);
        Assert.True(ok.Exit == 0, ok.Output);
        Assert.Contains("resuming", ok.Output);
    }

    [Fact]
    public void OfflineFetchKeepsNothingAndSaysWhereToPlaceAFileDownloadedByHand()
    {
        RequireTools();
        using var t = new TempDir();
        string zip = MakeMl100kZip(Path.Combine(t.Path, "server"));
        string sums = Checksums(t.Path, "ml-100k", zip);
        string data = Path.Combine(t.Path, "data");
        // an address that cannot be reached: nothing is downloaded, no partial file exists
        var r = Fetch("ml-100k", "--data-dir", data, "--base-url", "file://" + Path.Combine(t.Path, "no-server"), "--checksums", sums);
        Assert.Equal(1, r.Exit);
        Assert.Contains("could not download", r.Output);
        Assert.Contains("nothing was kept", r.Output);
        Assert.DoesNotContain("partial file", r.Output);
        Assert.Contains(Path.Combine(data, ".downloads", "ml-100k.zip"), r.Output);
        Assert.False(Directory.Exists(data), "the data folder this run created is removed again");
        // placing the archive there by hand, as the message says, installs it without a network
        Directory.CreateDirectory(Path.Combine(data, ".downloads"));
        File.Copy(zip, Path.Combine(data, ".downloads", "ml-100k.zip"));
        var ok = Fetch("ml-100k", "--data-dir", data, "--base-url", "file://" + Path.Combine(t.Path, "no-server"), "--checksums", sums);
        Assert.True(ok.Exit == 0, ok.Output);
        Assert.Contains("using verified ml-100k.zip", ok.Output);
        Assert.True(File.Exists(Path.Combine(data, "ml-100k", "u.data")));
    }

    [Fact]
    public void AFailedFetchKeepsADataFolderItDidNotCreate()
    {
        RequireTools();
        using var t = new TempDir();
        string zip = MakeMl100kZip(Path.Combine(t.Path, "server"));
        string sums = Checksums(t.Path, "ml-100k", zip);
        string data = Path.Combine(t.Path, "data");
        Directory.CreateDirectory(data);
        var r = Fetch("ml-100k", "--data-dir", data, "--base-url", "file://" + Path.Combine(t.Path, "no-server"), "--checksums", sums);
        Assert.Equal(1, r.Exit);
        Assert.True(Directory.Exists(data));
        Assert.False(Directory.Exists(Path.Combine(data, ".downloads")));
    }

    [Fact]
    public void CorruptDownloadFailsItsChecksumAndIsDeleted()
    {
        RequireTools();
        using var t = new TempDir();
        string zip = MakeMl100kZip(Path.Combine(t.Path, "server"));
        string sums = Checksums(t.Path, "ml-100k", zip);
        byte[] bad = File.ReadAllBytes(zip);
        bad[bad.Length / 2] ^= 0xFF;
        string badServer = Path.Combine(t.Path, "bad");
        Directory.CreateDirectory(badServer);
        File.WriteAllBytes(Path.Combine(badServer, "ml-100k.zip"), bad);
        string data = Path.Combine(t.Path, "data");
        var r = Fetch("ml-100k", "--data-dir", data, "--base-url", "file://" + badServer, "--checksums", sums);
        Assert.Equal(1, r.Exit);
        Assert.Contains("checksum mismatch", r.Output);
        Assert.False(File.Exists(Path.Combine(data, ".downloads", "ml-100k.zip.part")));
        Assert.False(File.Exists(Path.Combine(data, ".downloads", "ml-100k.zip")));
        Assert.False(Directory.Exists(Path.Combine(data, "ml-100k")));
    }

    [Fact]
    public void CorruptArchiveIsRefusedEvenWhenItsChecksumIsPinned()
    {
        RequireTools();
        using var t = new TempDir();
        string zip = MakeMl100kZip(Path.Combine(t.Path, "server"), lines: 20000);
        byte[] bytes = File.ReadAllBytes(zip);
        for (int k = bytes.Length / 4; k < bytes.Length / 4 + 16; k++) bytes[k] ^= 0x5A;   // inside u.data's deflate stream
        File.WriteAllBytes(zip, bytes);
        string sums = Checksums(t.Path, "ml-100k", zip);   // pinned as is: only the zip test can catch it
        string data = Path.Combine(t.Path, "data");
        var r = Fetch("ml-100k", "--data-dir", data, "--base-url", "file://" + Path.Combine(t.Path, "server"), "--checksums", sums);
        Assert.Equal(1, r.Exit);
        Assert.Contains("corrupt archive", r.Output);
        Assert.False(Directory.Exists(Path.Combine(data, "ml-100k")));
        Assert.False(File.Exists(Path.Combine(data, ".downloads", "ml-100k.zip")));
        Assert.Empty(Leftovers(data));
    }

    [Fact]
    public void ExtractedFileFailingItsPinInstallsNothing()
    {
        RequireTools();
        using var t = new TempDir();
        string zip = MakeMl100kZip(Path.Combine(t.Path, "server"));
        string sums = Checksums(t.Path, "ml-100k", zip, $"ml-100k file u.data sha256 {new string('0', 64)} -");
        string data = Path.Combine(t.Path, "data");
        var r = Fetch("ml-100k", "--data-dir", data, "--base-url", "file://" + Path.Combine(t.Path, "server"), "--checksums", sums);
        Assert.Equal(1, r.Exit);
        Assert.Contains("do not verify", r.Output);
        Assert.Contains("u.data", r.Output);
        Assert.False(Directory.Exists(Path.Combine(data, "ml-100k")));
        Assert.Empty(Leftovers(data));
    }

    [Fact]
    public void NcfFilesGoIntoMl1mAndSurviveAReinstallOfMl1m()
    {
        RequireTools();
        using var t = new TempDir();
        string server = t.Dir("server");
        File.WriteAllText(Path.Combine(server, "ml-1m.test.rating"), "0\t25\t5\t978824351\n");
        File.WriteAllText(Path.Combine(server, "ml-1m.test.negative"), "(0,25)\t1064\t174\n");
        string ml1m = Path.Combine(server, "ml-1m.zip");
        using (var z = ZipFile.Open(ml1m, ZipArchiveMode.Create))
        {
            Add(z, "ml-1m/ratings.dat", "1::1193::5::978300760\n1::661::3::978302109\n");
            Add(z, "ml-1m/movies.dat", "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n661::James and the Giant Peach (1996)::Animation\n");
            Add(z, "ml-1m/users.dat", "1::F::1::10::48067\n");
        }
        string sums = Checksums(t.Path, "ml-1m", ml1m,
            $"ml-1m-ncf archive ml-1m.test.rating sha256 {Sha(Path.Combine(server, "ml-1m.test.rating"))} {new FileInfo(Path.Combine(server, "ml-1m.test.rating")).Length}",
            $"ml-1m-ncf archive ml-1m.test.negative sha256 {Sha(Path.Combine(server, "ml-1m.test.negative"))} -");
        string data = Path.Combine(t.Path, "data");
        string[] opts = ["--data-dir", data, "--base-url", "file://" + server, "--checksums", sums];

        var ncf = Fetch(["ml-1m-ncf", .. opts]);
        Assert.True(ncf.Exit == 0, ncf.Output);
        Assert.True(File.Exists(Path.Combine(data, "ml-1m", "ncf", "ml-1m.test.negative")));
        Assert.Contains("already present and verified", Fetch(["ml-1m-ncf", .. opts]).Output);

        var ml = Fetch(["ml-1m", .. opts]);   // ml-1m/ holds only ncf/: installed without --force, ncf kept
        Assert.True(ml.Exit == 0, ml.Output);
        Assert.Equal(2, MovieLens1M.Read(Path.Combine(data, "ml-1m")).Count);
        Assert.True(File.Exists(Path.Combine(data, "ml-1m", "ncf", "ml-1m.test.rating")));
        var forced = Fetch(["ml-1m", "--force", .. opts]);
        Assert.True(forced.Exit == 0, forced.Output);
        Assert.True(File.Exists(Path.Combine(data, "ml-1m", "ncf", "ml-1m.test.rating")));
        Assert.Empty(Leftovers(data));
    }

    /// <summary>Starts fetch.sh with <paramref name="shims"/> first on PATH (wrappers of unzip or mv that pause at one step, so a
    /// real SIGKILL lands exactly there).</summary>
    private static Process StartFetch(string shims, params string[] args)
    {
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Script);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment.Remove(DataDirectory.EnvironmentVariable);
        psi.Environment["PATH"] = shims + ":" + Environment.GetEnvironmentVariable("PATH");
        var p = Process.Start(psi)!;
        p.StandardOutput.ReadToEndAsync();
        p.StandardError.ReadToEndAsync();
        return p;
    }

    /// <summary>A wrapper script named <paramref name="tool"/> that runs the real tool, then sleeps a minute when
    /// <paramref name="pauseWhen"/> (a bash condition over "$@") holds.</summary>
    private static void Shim(string dir, string tool, string pauseWhen)
    {
        string real = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, tool)).First(File.Exists);
        string path = Path.Combine(dir, tool);
        File.WriteAllText(path, $"#!/usr/bin/env bash\n\"{real}\" \"$@\"; rc=$?\nif {pauseWhen}; then sleep 60; fi\nexit $rc\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    private static void KillWhen(Process p, Func<bool> condition)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.False(p.HasExited, "fetch.sh ended before the point where it was to be killed");
            Assert.True(sw.Elapsed < TimeSpan.FromMinutes(1), "fetch.sh did not reach the point where it was to be killed");
            Thread.Sleep(5);
        }
        p.Kill(entireProcessTree: true);                 // SIGKILL: no trap runs
        p.WaitForExit();
    }

    [Fact]
    public void AFetchKilledDuringUnzipLeavesAFolderTheNextRunRemoves()
    {
        RequireTools();
        using var t = new TempDir();
        string zip = MakeMl100kZip(Path.Combine(t.Path, "server"));
        string sums = Checksums(t.Path, "ml-100k", zip);
        string data = Path.Combine(t.Path, "data");
        string shims = t.Dir("shims");
        Shim(shims, "unzip", "[ \"$1\" = -q ]");          // the extraction (not the integrity test) pauses once done
        string[] args = ["ml-100k", "--data-dir", data, "--base-url", "file://" + Path.Combine(t.Path, "server"), "--checksums", sums];
        using (var p = StartFetch(shims, args))
            KillWhen(p, () => Leftovers(data).Any(d => File.Exists(Path.Combine(d, "x", "ml-100k", "u.data"))));
        Assert.NotEmpty(Leftovers(data));
        Assert.False(Directory.Exists(Path.Combine(data, "ml-100k")));

        var r = Fetch(args);
        Assert.True(r.Exit == 0, r.Output);
        Assert.Matches(@"fetch\.sh: removing .*/\.fetch-ml-100k\.\d+\.\w+, left by an interrupted run", r.Output);
        Assert.Contains("ml-100k is ready", r.Output);
        Assert.Empty(Leftovers(data));
        Assert.Equal(3000, MovieLens100K.Read(Path.Combine(data, "ml-100k")).Count);
    }

    /// <summary>--force swaps the new folder in with two renames; a SIGKILL between them leaves the dataset folder missing and
    /// the previous one inside the temporary folder. The next run puts the previous folder back before anything else.</summary>
    [Fact]
    public void AFetchKilledBetweenTheTwoRenamesOfASwapGetsThePreviousFolderBack()
    {
        RequireTools();
        using var t = new TempDir();
        string zip = MakeMl100kZip(Path.Combine(t.Path, "server"));
        string sums = Checksums(t.Path, "ml-100k", zip);
        string data = Path.Combine(t.Path, "data");
        string[] args = ["ml-100k", "--data-dir", data, "--base-url", "file://" + Path.Combine(t.Path, "server"), "--checksums", sums];
        Assert.Equal(0, Fetch(args).Exit);
        string dest = Path.Combine(data, "ml-100k");
        File.WriteAllText(Path.Combine(dest, "my-notes.txt"), "kept");
        string shims = t.Dir("shims");
        Shim(shims, "mv", "[[ \"${2:-}\" == */old ]]");     // pause right after the previous folder was moved aside
        using (var p = StartFetch(shims, [.. args, "--force"]))
            KillWhen(p, () => Leftovers(data).Any(d => Directory.Exists(Path.Combine(d, "old"))));
        Assert.False(Directory.Exists(dest));

        var r = Fetch(args);
        Assert.True(r.Exit == 0, r.Output);
        Assert.Contains($"fetch.sh: restored {dest}, which an interrupted run had moved aside", r.Output);
        Assert.Contains("already present", r.Output);
        Assert.Equal("kept", File.ReadAllText(Path.Combine(dest, "my-notes.txt")));
        Assert.Empty(Leftovers(data));
    }

    [Fact]
    public void ListAndRefusals()
    {
        RequireTools();
        using var t = new TempDir();
        var list = Fetch("--list", "--data-dir", t.Path);
        Assert.Equal(0, list.Exit);
        foreach (var n in new[] { "ml-100k", "ml-1m", "ml-1m-ncf", "ml-20m", "ml-latest-small", "lastfm-2k" }) Assert.Contains(n, list.Output);
        Assert.Contains("NO redistribution", list.Output);
        var unknown = Fetch("ml-2m", "--data-dir", t.Path);
        Assert.Equal(1, unknown.Exit);
        Assert.Contains("unknown dataset", unknown.Output);
        var netflix = Fetch("netflix", "--data-dir", t.Path);
        Assert.Equal(1, netflix.Exit);
        Assert.Contains("no longer distributed", netflix.Output);
        Assert.Equal(2, Fetch("--no-such-option").Exit);
    }

    [Fact]
    public void RealPinsOfChecksumsFileMatchTheRealFiles()
    {
        RequireTools();
        string ml100k = TestData.RequireFolder("ml-100k", "u.data", "u.item", "u.genre");
        string ncfDir = TestData.RequireFolder(Path.Combine("ml-1m", "ncf"), "ml-1m.test.rating", "ml-1m.test.negative");
        string latest = TestData.RequireFolder("ml-latest-small", "ratings.csv", "movies.csv");
        using var t = new TempDir();
        string real = File.ReadAllText(Path.Combine(Repo!, "data-scripts", "checksums.txt"));
        string data = Path.Combine(t.Path, "data");

        // NCF files served as they are: the real checksums file must accept them
        var ncf = Fetch("ml-1m-ncf", "--data-dir", data, "--base-url", "file://" + ncfDir);
        Assert.True(ncf.Exit == 0, ncf.Output);

        // zips built from the real files: the real extracted-file pins must accept them
        foreach (var (name, dir) in new[] { ("ml-100k", ml100k), ("ml-latest-small", latest) })
        {
            string server = t.Dir("server-" + name);
            string zip = Path.Combine(server, name + ".zip");
            using (var z = ZipFile.Open(zip, ZipArchiveMode.Create))
                foreach (var f in Directory.GetFiles(dir).Where(f => !f.EndsWith(".md")))
                    z.CreateEntryFromFile(f, $"{name}/{Path.GetFileName(f)}", CompressionLevel.Fastest);
            var lines = real.Split('\n').Where(l => !l.StartsWith(name + " ") || !l.Contains(" archive ")).ToList();
            lines.Add($"{name} archive {name}.zip sha256 {Sha(zip)} {new FileInfo(zip).Length}");
            string sums = Path.Combine(t.Path, $"checksums-{name}.txt");
            File.WriteAllLines(sums, lines);
            var r = Fetch(name, "--data-dir", data, "--base-url", "file://" + server, "--checksums", sums);
            Assert.True(r.Exit == 0, r.Output);
            Assert.Contains("ready", r.Output);
        }
        Assert.Equal(100_000, MovieLens100K.Read(Path.Combine(data, "ml-100k")).Count);
    }
}
