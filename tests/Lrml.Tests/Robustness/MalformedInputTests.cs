using System.Text;
using Lrml.Data;

namespace Lrml.Tests.Robustness;

/// <summary>Runs a reader on one damaged file in a fresh folder and checks that reading wrote nothing.</summary>
internal static class CorpusRunner
{
    /// <summary>Writes the companions and <paramref name="content"/> as the target file, reads, and returns the result
    /// or the exception; the folder must hold exactly the files written before the read (no output, no temp file).</summary>
    public static (object? Result, Exception? Error, string TargetPath) Run(ReaderTarget t, byte[] content)
    {
        string dir = Directory.CreateTempSubdirectory("lrml-robust").FullName;
        try
        {
            t.WriteCompanions(dir);
            string path = Path.Combine(dir, t.FileName);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, content);
            var before = Listing(dir);
            object? result = null;
            Exception? error = null;
            try { result = t.Read(dir); }
            catch (Exception e) { error = e; }
            Assert.Equal(before, Listing(dir));
            return (result, error, Path.GetFullPath(path));
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }

    private static string Listing(string dir) =>
        string.Join("\n", Directory.EnumerateFileSystemEntries(dir, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            .Select(p => p + (File.Exists(p) ? " " + new FileInfo(p).Length : "/")));

    /// <summary>Fails unless <paramref name="error"/> is a DataFormatException naming <paramref name="path"/>, with a line in
    /// [0, <paramref name="maxLine"/>] and a short message; returns it.</summary>
    /// <remarks>With <paramref name="orCompanion"/>, the error may also name another file of the same folder (a damaged
    /// NCF test file can make its valid companion inconsistent, and the cross-check names the companion).</remarks>
    public static DataFormatException AssertCleanError(Exception? error, string path, long maxLine, bool orCompanion = false)
    {
        Assert.NotNull(error);
        if (error is not DataFormatException e)
            throw new Xunit.Sdk.XunitException($"expected a DataFormatException, got {error.GetType().Name}: {error}");
        string named = Path.GetFullPath(e.FilePath);
        if (orCompanion && named != path)
        {
            Assert.Equal(Path.GetDirectoryName(path), Path.GetDirectoryName(named));
            Assert.True(e.Line >= 0);
        }
        else
        {
            Assert.Equal(path, named);
            Assert.InRange(e.Line, 0, maxLine);
        }
        Assert.False(string.IsNullOrWhiteSpace(e.Reason), "the error must give a reason");
        Assert.True(e.Message.Length < 1000, $"the message must not quote the input at length ({e.Message.Length} characters)");
        Assert.Contains(e.FilePath, e.Message);
        return e;
    }
}

/// <summary>
/// The malformed-input corpus: every reader × every fault of the issue (wrong separator, missing fields, non-numeric
/// ids, negative or NaN ratings, duplicate lines, BOM, CRLF, truncated last line, empty file, gigantic line, unknown
/// ids in NCF files, plus NUL bytes, a Windows-1252 byte in a number, CR-only line ends and a complete last line without
/// its newline) gives its documented outcome: a DataFormatException naming the file, the line and
/// a reason, or — for the harmless variants — exactly the result of the clean file.
/// </summary>
public class MalformedInputTests
{
    /// <summary>Applicable (reader, fault) pairs: 17 readers × 16 faults − 16 rating faults on files without a rating
    /// column − 14 unknown-id faults on files that define their own index space.</summary>
    public const int ExpectedCases = 17 * 16 - 16 - 14;

    public static TheoryData<string, Fault> CaseIds()
    {
        var d = new TheoryData<string, Fault>();
        foreach (var c in MalformedCorpus.Cases()) d.Add(c.Target.Name, c.Fault);
        return d;
    }

    [Theory]
    [MemberData(nameof(CaseIds))]
    public void EachMalformedInputGivesItsDocumentedOutcome(string reader, Fault fault)
    {
        var target = ReaderTargets.All.Single(t => t.Name == reader);
        var c = MalformedCorpus.Build(target, fault, out _)!;
        var (result, error, path) = CorpusRunner.Run(target, c.Content);
        switch (c.Expect)
        {
            case ErrorAt e:
            {
                var ex = CorpusRunner.AssertCleanError(error, path, target.Lines.Length + 1);
                Assert.Equal(e.Line, ex.Line);
                Assert.True(e.AnyOf.Any(w => ex.Reason.Contains(w, StringComparison.OrdinalIgnoreCase)),
                    $"the reason \"{ex.Reason}\" names none of: {string.Join(" | ", e.AnyOf)}");
                break;
            }
            case SameAsValid:
            {
                Assert.Null(error);
                var (clean, cleanError, _) = CorpusRunner.Run(target, target.ValidBytes());
                Assert.Null(cleanError);
                ReadOutcome.CheckInvariants(result!);
                Assert.Equal(ReadOutcome.Describe(clean!), ReadOutcome.Describe(result!));
                break;
            }
            case OneMoreRow:
            {
                Assert.Null(error);
                var (clean, _, _) = CorpusRunner.Run(target, target.ValidBytes());
                var d = Assert.IsType<Interactions>(result);
                var cd = Assert.IsType<Interactions>(clean);
                ReadOutcome.CheckInvariants(d);
                Assert.Equal(cd.Count + 1, d.Count);
                Assert.Equal(ReadOutcome.DistinctPairs(cd), ReadOutcome.DistinctPairs(d));
                Assert.Equal(cd.Users.Raw, d.Users.Raw);
                Assert.Equal(cd.Items.Raw, d.Items.Raw);
                Assert.Equal(1, Lrml.Data.Preprocess.Deduplicate(d).RemovedInteractions);
                break;
            }
            default:
                throw new InvalidOperationException(c.Expect.ToString());
        }
    }

    [Fact]
    public void EveryValidTargetFileReadsCleanly()
    {
        foreach (var t in ReaderTargets.All)
        {
            var (result, error, _) = CorpusRunner.Run(t, t.ValidBytes());
            Assert.True(error is null, $"{t.Name}: {error}");
            ReadOutcome.CheckInvariants(result!);
        }
    }

    [Fact]
    public void CorpusCoversEveryReaderAndEveryFault()
    {
        var table = new StringBuilder("| reader | " + string.Join(" | ", Enum.GetNames<Fault>()) + " |\n");
        table.Append("|---|").Append(string.Concat(Enumerable.Repeat("---|", Enum.GetValues<Fault>().Length))).Append('\n');
        int cases = 0, notApplicable = 0;
        foreach (var t in ReaderTargets.All)
        {
            table.Append("| ").Append(t.Name).Append(" |");
            foreach (var f in Enum.GetValues<Fault>())
            {
                var c = MalformedCorpus.Build(t, f, out var why);
                if (c is null)
                {
                    Assert.False(string.IsNullOrWhiteSpace(why));
                    notApplicable++;
                    table.Append(" n/a |");
                }
                else
                {
                    cases++;
                    table.Append(' ').Append(c.Expect is ErrorAt e ? (e.Line == 0 ? "error@file" : $"error@{e.Line}") : c.Expect is SameAsValid ? "same" : "+1 row").Append(" |");
                }
            }
            table.Append('\n');
        }
        TestContext.Current.TestOutputHelper?.WriteLine(table.ToString());
        Assert.Equal(17, ReaderTargets.All.Count);
        Assert.Equal(ExpectedCases, cases);
        Assert.Equal(ReaderTargets.All.Count * Enum.GetValues<Fault>().Length, cases + notApplicable);
        Assert.Equal(ExpectedCases, CaseIds().Count);
    }
}
