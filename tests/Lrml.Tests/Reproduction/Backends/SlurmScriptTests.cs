using Lrml.Reproduction.Backends;

namespace Lrml.Tests.Reproduction.Backends;

/// <summary>The sbatch script of a submission and the parsing of the scheduler settings, without a cluster.</summary>
public class SlurmScriptTests
{
    private static SlurmSettings Settings(Func<SlurmSettings, SlurmSettings>? change = null)
    {
        var s = new SlurmSettings { Command = ["/opt/lrml/Lrml.Cli"] };
        return change is null ? s : change(s);
    }

    [Fact]
    public void TheScriptCarriesEverySchedulerSettingAndRunsOneSpecPerArrayTask()
    {
        var settings = Settings(s => s with
        {
            Partition = "gpu", Account = "proj42", Gres = "gpu:1", Throttle = 4, ExtraLines = ["--qos=long", "--constraint=avx2"],
        });
        var resources = new TaskResources(TimeSpan.FromMinutes(95), 6144, 3, "");
        string script = SlurmScript.Render("/shared/res/sweeps/x/slurm/job-002", 10, "trials of lrml", settings, resources,
            "/shared/data", "/shared/res", "0123abcd");
        var lines = script.Split('\n');
        Assert.Equal("#!/bin/bash", lines[0]);
        var sbatch = lines.Where(l => l.StartsWith("#SBATCH ", StringComparison.Ordinal)).ToList();
        Assert.Equal(
        [
            "#SBATCH --job-name=lrml-trials-of-lrml",
            "#SBATCH --array=0-9%4",
            "#SBATCH --output=/shared/res/sweeps/x/slurm/job-002/logs/%A_%a.out",
            "#SBATCH --open-mode=append",
            "#SBATCH --requeue",
            "#SBATCH --time=0-01:35:00",
            "#SBATCH --cpus-per-task=3",
            "#SBATCH --mem=6144M",
            "#SBATCH --partition=gpu",
            "#SBATCH --account=proj42",
            "#SBATCH --gres=gpu:1",
            "#SBATCH --qos=long",
            "#SBATCH --constraint=avx2",
        ], sbatch);
        // every #SBATCH line comes before the first command (sbatch stops reading options there)
        int firstCommand = Array.FindIndex(lines, l => l.Length > 0 && !l.StartsWith('#'));
        Assert.True(Array.FindLastIndex(lines, l => l.StartsWith("#SBATCH", StringComparison.Ordinal)) < firstCommand);
        Assert.Contains("if [ \"$(cat \"$job_dir/probe\" 2>/dev/null)\" != '0123abcd' ]; then", lines);
        Assert.Contains($"  exit {SlurmScript.NotSharedExitCode}", lines);
        Assert.Equal("exec '/opt/lrml/Lrml.Cli' --data-dir '/shared/data' --results '/shared/res' train --spec \"$job_dir/specs/$task.json\"",
            lines.Single(l => l.StartsWith("exec ", StringComparison.Ordinal)));
    }

    /// <summary>The script run by bash as a node would run it: with the probe file it hands the task's spec file to the kit's
    /// command; without it (a folder the node does not share) it stops with the message and exit code 3.</summary>
    [Fact]
    public void TheScriptRunsItsTasksSpecOnlyWhenItCanReadTheProbe()
    {
        string jobDir = Directory.CreateTempSubdirectory("lrml-jobscript").FullName;
        string script = Path.Combine(jobDir, SlurmScript.FileName);
        File.WriteAllText(script, SlurmScript.Render(jobDir, 3, "x", Settings(s => s with { Command = ["/bin/echo", "lrml"] }),
            new TaskResources(TimeSpan.FromMinutes(15), 1024, 1, ""), "/d", "/r", "token-1"));
        (int Code, string Out, string Err) Bash()
        {
            var psi = new System.Diagnostics.ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add(script);
            psi.Environment["SLURM_ARRAY_TASK_ID"] = "2";
            psi.Environment["SLURM_ARRAY_JOB_ID"] = "77";
            using var p = System.Diagnostics.Process.Start(psi)!;
            string o = p.StandardOutput.ReadToEnd(), e = p.StandardError.ReadToEnd();
            p.WaitForExit();
            return (p.ExitCode, o, e);
        }
        var (code, _, err) = Bash();                                                 // no probe file: not shared
        Assert.Equal(SlurmScript.NotSharedExitCode, code);
        Assert.Contains($"lrml: cannot read {jobDir}/probe on ", err);
        Assert.Contains(": the results folder must be on a file system shared by the submitting machine and the compute nodes", err);

        File.WriteAllText(Path.Combine(jobDir, "probe"), "token-0");                   // another submission's probe
        Assert.Equal(SlurmScript.NotSharedExitCode, Bash().Code);

        File.WriteAllText(Path.Combine(jobDir, "probe"), "token-1");
        (code, string stdout, err) = Bash();
        Assert.True(code == 0, err);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("lrml: task 77_2 on ", lines[0]);
        Assert.Contains(", start 1, ", lines[0]);
        Assert.Equal($"lrml --data-dir /d --results /r train --spec {jobDir}/specs/2.json", lines[1]);
    }

    [Fact]
    public void WithoutOptionalSettingsTheScriptHasNoPartitionAccountGresOrThrottle()
    {
        string script = SlurmScript.Render("/s/job-001", 1, "final runs", Settings(), new TaskResources(TimeSpan.FromHours(26.5), 1024, 1, ""), "/d", "/s", "t");
        Assert.Contains("#SBATCH --array=0\n", script);
        Assert.Contains("#SBATCH --time=1-02:30:00\n", script);
        Assert.DoesNotContain("--partition", script);
        Assert.DoesNotContain("--account", script);
        Assert.DoesNotContain("--gres", script);
    }

    [Fact]
    public void ArraySpecsJoinConsecutiveIndicesAndAppendTheThrottle()
    {
        Assert.Equal("0-7", SlurmScript.ArraySpec(Enumerable.Range(0, 8), null));
        Assert.Equal("1,3,5-6%2", SlurmScript.ArraySpec([6, 1, 5, 3], 2));
        Assert.Equal("4", SlurmScript.ArraySpec([4, 4], null));
        Assert.Throws<ArgumentException>(() => SlurmScript.ArraySpec([], null));
    }

    [Fact]
    public void ShellWordsAreQuotedSoAPathWithAQuoteStaysOneWord()
    {
        Assert.Equal("'/a/it'\\''s/b'", SlurmScript.Quote("/a/it's/b"));
        string script = SlurmScript.Render("/s/job-001", 2, "x", Settings(s => s with { Command = ["/usr/bin/dotnet", "/o'k/Lrml.Cli.dll"] }),
            new TaskResources(TimeSpan.FromMinutes(15), 1024, 1, ""), "/d", "/s", "t");
        Assert.Contains("exec '/usr/bin/dotnet' '/o'\\''k/Lrml.Cli.dll' --data-dir", script);
    }

    [Theory]
    [InlineData("90", 90 * 60)]
    [InlineData("45:30", 45 * 60 + 30)]
    [InlineData("2:00:00", 7200)]
    [InlineData("1-12", 36 * 3600)]
    [InlineData("1-12:30", 36 * 3600 + 1800)]
    [InlineData("2-00:00:10", 2 * 86400 + 10)]
    public void SlurmTimeFormatsParse(string text, int seconds)
    {
        Assert.Equal(TimeSpan.FromSeconds(seconds), SlurmSettings.ParseTime(text));
        Assert.Equal(TimeSpan.FromSeconds(seconds), SlurmSettings.ParseTime(SlurmSettings.FormatTime(TimeSpan.FromSeconds(seconds))));
    }

    [Theory]
    [InlineData("")]
    [InlineData("1h")]
    [InlineData("0")]
    [InlineData("1:2:3:4")]
    [InlineData("-5")]
    public void BadTimesAreRefusedNamingTheOption(string text) =>
        Assert.StartsWith("--time '", Assert.Throws<ArgumentException>(() => SlurmSettings.ParseTime(text)).Message);

    [Theory]
    [InlineData("4096", 4096)]
    [InlineData("4G", 4096)]
    [InlineData("1.5g", 1536)]
    [InlineData("512M", 512)]
    [InlineData("2048K", 2)]
    [InlineData("1T", 1048576)]
    public void MemorySizesParseAsSbatchReadsThem(string text, int mb) => Assert.Equal(mb, SlurmSettings.ParseMemoryMb(text));

    [Fact]
    public void SettingsThatWouldBreakTheScriptAreRefused()
    {
        Assert.Throws<ArgumentException>(() => SlurmSettings.ParseMemoryMb("lots"));
        Assert.Contains("--partition", Assert.Throws<ArgumentException>(() => Settings(s => s with { Partition = "a b" }).Validate()).Message);
        Assert.Contains("--account", Assert.Throws<ArgumentException>(() => Settings(s => s with { Account = "x;rm" }).Validate()).Message);
        Assert.Contains("--sbatch", Assert.Throws<ArgumentException>(() => Settings(s => s with { ExtraLines = ["qos=long"] }).Validate()).Message);
        Assert.Contains("--sbatch", Assert.Throws<ArgumentException>(() => Settings(s => s with { ExtraLines = ["--qos=a\n#SBATCH --x"] }).Validate()).Message);
        Assert.Contains("--array-throttle", Assert.Throws<ArgumentException>(() => Settings(s => s with { Throttle = 0 }).Validate()).Message);
        Settings(s => s with { Partition = "gpu-a100", Account = "proj_42", Gres = "gpu:a100:2", ExtraLines = ["--qos=long"] }).Validate();
    }

    [Fact]
    public void TheDefaultTimeLimitIsTwiceTheEstimatePlusTenMinutesInWholeFiveMinutes()
    {
        Assert.Equal(TimeSpan.FromMinutes(10), TaskResources.TimeFor(0));          // 600 s
        Assert.Equal(TimeSpan.FromMinutes(15), TaskResources.TimeFor(2));          // 604 s → 15 min
        Assert.Equal(TimeSpan.FromMinutes(15), TaskResources.TimeFor(150));        // 900 s exactly
        Assert.Equal(TimeSpan.FromMinutes(130), TaskResources.TimeFor(3600));      // 7800 s = 130 min
    }

    [Fact]
    public void TheDefaultMemoryCountsDataModelAndScoringWithHeadroom()
    {
        // ML-1M-sized: 1,000,209 interactions, 6,040 × 99 sampled candidates, 6,040 users, 3,706 items, dim 100
        long interactions = 1_000_209, candidates = 6_040L * 99, users = 6_040, items = 3_706;
        double bytes = 48.0 * interactions + 4.0 * candidates + 24.0 * (users + items) * 100 + 8.0 * 256 * items;
        double mb = 1.5 * (512 + bytes / 1048576);                               // ≈ 1.5 × (512 + 45.8 + 2.3 + 22.3 + 7.2) ≈ 884
        Assert.Equal(1024, TaskResources.MemoryMbFor(interactions, candidates, users, items, 100));   // the 1 GB floor
        Assert.True(mb < 1024);
        // Netflix-sized: 100,480,507 interactions, 480,189 users, 17,770 items, dim 100
        long n = 100_480_507, u = 480_189, i = 17_770;
        double big = 1.5 * (512 + (48.0 * n + 24.0 * (u + i) * 100 + 8.0 * 256 * i) / 1048576);
        Assert.Equal((int)(256 * Math.Ceiling(big / 256)), TaskResources.MemoryMbFor(n, 0, u, i, 100));
        // by hand: 4,823,064,336 + 1,195,101,600 + 36,392,960 bytes = 5,774.1 MB; 1.5 × (512 + 5,774.1) = 9,429.2 → 9,472 MB
        Assert.Equal(9472, TaskResources.MemoryMbFor(n, 0, u, i, 100));
    }
}
