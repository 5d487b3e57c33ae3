using System.Text;
using Lrml.Data;
using Lrml.Experiments;
using Lrml.Tests.Robustness;

namespace Lrml.Tests.Data;

/// <summary>
/// Issue 11, case 10: bad values and inputs that used to crash, pass silently or give a misleading message. Each case
/// writes the bad input as a real file and checks the exact error: file, line and reason.
/// </summary>
public class InputEdgeCaseTests
{
    private const string UData = "196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n";

    private static DataFormatException Fails(Action read) => Assert.Throws<DataFormatException>(read);

    private static void AssertAt(DataFormatException e, string path, long line, params string[] reasonParts)
    {
        Assert.Equal(Path.GetFullPath(path), Path.GetFullPath(e.FilePath));
        Assert.Equal(line, e.Line);
        foreach (var part in reasonParts) Assert.Contains(part, e.Reason);
        Assert.StartsWith(line > 0 ? $"{e.FilePath}:{line}: " : $"{e.FilePath}: ", e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }

    // ---- timestamps ----------------------------------------------------------------------------------------------

    [Theory]
    [InlineData("99999999999999", "it looks like microseconds")]
    [InlineData("881250949000", "it looks like milliseconds")]
    [InlineData("4102444800", "")]          // 2100-01-01T00:00:00Z, one second past the range
    [InlineData("-1", "")]
    public void ATimestampOutsideTheYears1970To2099IsAnErrorWithFileAndLine(string stamp, string hint)
    {
        using var t = new TempDir();
        string f = t.File("u.data", UData + $"5\t7\t3\t{stamp}\n");
        var e = Fails(() => MovieLens100K.Read(t.Path));
        AssertAt(e, f, 4, $"timestamp \"{stamp}\" is out of range", "1970-01-01 to 2099-12-31 UTC", hint);
    }

    [Fact]
    public void TheLastSecondOf2099IsAccepted()
    {
        using var t = new TempDir();
        t.File("u.data", UData + "5\t7\t3\t4102444799\n");
        Assert.Equal(4_102_444_799L, MovieLens100K.Read(t.Path).Timestamp![3]);
    }

    [Fact]
    public void DatesOutsideTheRangeAreRefusedByEveryTimestampFormat()
    {
        using var t = new TempDir();
        string f = t.File("combined_data_1.txt", "1:\n1488844,3,2005-09-06\n822109,5,1969-12-31\n");
        AssertAt(Fails(() => NetflixPrize.Read(t.Path)), f, 3, "date \"1969-12-31\" is out of range");
        string csv = t.File("plays.csv", "user,item,when\n1,2,2005-09-06\n1,3,2100-01-01\n");
        var format = new DelimitedFormat { HasHeader = true, TimestampColumn = 2, TimestampFormat = TimestampFormat.Date };
        AssertAt(Fails(() => DelimitedReader.Read(csv, format)), csv, 3, "timestamp \"2100-01-01\" is out of range");
    }

    [Fact]
    public void DatasetCardOfInMemoryDataWithImpossibleTimesIsAClearError()
    {
        var d = new Interactions("made-up", [0], [0], null, [99_999_999_999_999], new IdMap(["1"]), new IdMap(["1"]));
        var e = Assert.Throws<ArgumentException>(() => DatasetCard.From(d));
        Assert.Contains("timestamps outside the range of dates", e.Message);
    }

    /// <summary>Real processes: `lrml data stats` used to fail with a bare .NET range message, and `lrml train` accepted the
    /// timestamp (leave-last-out then moved that user's test item to the bogus row). Both now print one error line naming
    /// file and line.</summary>
    [Fact]
    public void DataStatsAndTrainOnAFarFutureTimestampPrintOneErrorLine()
    {
        string root = Directory.CreateTempSubdirectory("lrml-stamp").FullName;
        string data = Path.Combine(root, "no-data", "ml-100k");     // the data root CliRunner passes
        Directory.CreateDirectory(data);
        var lines = new StringBuilder();
        for (int u = 1; u <= 20; u++) for (int i = 1; i <= 6; i++) lines.Append($"{u}\t{(u * 7 + i) % 40 + 1}\t{1 + (u + i) % 5}\t{881250000 + u * 100 + i}\n");
        lines.Append("3\t40\t4\t99999999999999\n");
        File.WriteAllText(Path.Combine(data, "u.data"), lines.ToString());
        string expected = $"{Path.Combine(data, "u.data")}:121: timestamp \"99999999999999\" is out of range";
        foreach (var args in new[] { new[] { "data", "stats", "ml-100k" }, ["train", "-d", "ml-100k", "-m", "bpr", "--epochs", "1", "--no-full-ranking"] })
        {
            var (code, stdout, stderr) = CliRunner.Run(root, args);
            Assert.Equal(2, code);                                            // a bad data file is bad input, like a bad setting
            Assert.StartsWith("error: " + expected, CliRunner.SingleErrorLine(stdout, stderr));
        }
    }

    // ---- truncated, growing and shrinking files --------------------------------------------------------------------

    [Fact]
    public void APartlyWrittenLastLineWithoutNewlineIsRefused()
    {
        using var t = new TempDir();
        string f = t.File("u.data", UData);
        File.AppendAllText(f, "1\t1000\t5\t8");          // printf '1\t1000\t5\t8' >> u.data: complete fields, cut timestamp
        AssertAt(Fails(() => MovieLens100K.Read(t.Path)), f, 4, "the file does not end with a newline", "may be truncated");
        File.AppendAllText(f, "81250949");               // finished but still no newline: still refused
        AssertAt(Fails(() => MovieLens100K.Read(t.Path)), f, 4, "does not end with a newline");
        File.AppendAllText(f, "\n");
        Assert.Equal(881250949L, MovieLens100K.Read(t.Path).Timestamp![3]);
    }

    [Fact]
    public void AFileCutInTheMiddleOfAFieldIsRefused()
    {
        using var t = new TempDir();
        string f = t.File("ratings.dat", "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::9783");
        AssertAt(Fails(() => MovieLens1M.Read(t.Path)), f, 3, "does not end with a newline");
    }

    /// <summary>A real file that another handle appends to (or truncates) right after the reader reached its end: the
    /// reader sees a size different from what it read and refuses the mixture.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void AFileThatChangesWhileItIsReadIsRefused(bool grow)
    {
        using var t = new TempDir();
        string f = t.File("u.data", string.Concat(Enumerable.Repeat(UData, 20)));
        long size = new FileInfo(f).Length, after = grow ? size + ChangingAtEndStream.Line.Length : 100;
        using var stream = new ChangingAtEndStream(f, grow);
        using var r = new LineReader(stream, f, maxLineBytes: 200, bufferBytes: 64);
        var e = Fails(() => { while (r.TryReadLine(out _)) { } });
        AssertAt(e, f, 0, $"the file changed while it was read ({size:N0} bytes read, it now has {after:N0})", "another program");
        Assert.True(stream.Changed);
    }

    /// <summary>Opens a real file and, the first time a read reaches its end, appends a line through a second handle (or
    /// truncates it), as a writer racing the reader would.</summary>
    private sealed class ChangingAtEndStream : FileStream
    {
        public static readonly byte[] Line = "7\t8\t3\t881250949\n"u8.ToArray();
        private readonly bool _grow;

        public ChangingAtEndStream(string file, bool grow) : base(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1) => _grow = grow;

        public bool Changed { get; private set; }

        public override int Read(Span<byte> buffer)
        {
            int n = base.Read(buffer);
            if (n == 0 && !Changed)
            {
                Changed = true;
                using var w = new FileStream(Name, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
                if (_grow) { w.Seek(0, SeekOrigin.End); w.Write(Line); }
                else w.SetLength(100);
            }
            return n;
        }
    }

    // ---- bytes and line ends ----------------------------------------------------------------------------------------

    [Fact]
    public void AWindows1252ByteAfterARatingIsNamedWithItsColumn()
    {
        using var t = new TempDir();
        var lines = Enumerable.Range(1, 4999).Select(k => $"{k % 900 + 1}\t{k % 1600 + 1}\t{k % 5 + 1}\t{881250949 + k}\n");
        var bytes = Encoding.ASCII.GetBytes(string.Concat(lines)).Concat("7\t8\t3"u8.ToArray()).Concat(new byte[] { 0x96 })
            .Concat("\t881250949\n"u8.ToArray()).ToArray();
        string f = t.Bytes("u.data", bytes);
        var e = Fails(() => MovieLens100K.Read(t.Path));
        AssertAt(e, f, 5000, "rating \"3\\x96\" contains the byte 0x96 at column 6", "not ASCII", "Windows-1252");
        Assert.DoesNotContain("is not a number", e.Reason);
    }

    [Fact]
    public void AByteAfterAnIdOrATimestampIsNamedToo()
    {
        using var t = new TempDir();
        string f = t.Bytes("u.data", [.. "1\t2\t3\t881250949\n1\t3"u8, 0xE9, .. "\t3\t881250949\n"u8]);
        AssertAt(Fails(() => MovieLens100K.Read(t.Path)), f, 2, "item id \"3\xE9\" contains the byte 0xE9 at column 4");
        t.Bytes("u.data", [.. "1\t2\t3\t881250949\n1\t3\t3\t88125"u8, 0x0C, .. "0949\n"u8]);
        AssertAt(Fails(() => MovieLens100K.Read(t.Path)), f, 2, "contains the byte 0x0C at column 12, a control character (form feed)");
    }

    [Theory]
    [InlineData(3)]            // a short file: one "line" holding the whole file
    [InlineData(80_000)]       // beyond the 1 MiB line limit: used to be reported as "binary or compressed?"
    public void CrOnlyLineEndsAreRecognised(int lines)
    {
        using var t = new TempDir();
        string f = t.File("u.data", string.Concat(Enumerable.Range(1, lines).Select(k => $"{k % 900 + 1}\t{k % 1600 + 1}\t3\t881250949\r")));
        var e = Fails(() => MovieLens100K.Read(t.Path));
        AssertAt(e, f, 1, "CR-only line ends (classic Mac OS)", "convert them to LF");
        Assert.DoesNotContain("binary", e.Reason);
    }

    [Fact]
    public void NcfFilesNameBadBytesCrOnlyLineEndsAndAMissingFinalNewline()
    {
        using var t = new TempDir();
        string f = t.Bytes("ml-1m.test.rating", [.. "0\t2\t5\t978300760\n1\t4\t3"u8, 0x96, .. "\t978300761\n"u8]);
        var e = Fails(() => Lrml.Protocols.NcfFiles.ReadRatings(f, 4, 8));
        AssertAt(e, f, 2, "rating \"3\\x96\" contains the byte 0x96 at column 6");
        t.File("ml-1m.test.rating", "0\t2\t5\t978300760\r1\t4\t3\t978300761\r");
        AssertAt(Fails(() => Lrml.Protocols.NcfFiles.ReadRatings(f, 4, 8)), f, 1, "CR-only line ends");
        t.File("ml-1m.test.rating", "0\t2\t5\t978300760\n1\t4\t3\t97830");
        AssertAt(Fails(() => Lrml.Protocols.NcfFiles.ReadRatings(f, 4, 8)), f, 2, "does not end with a newline");
        t.File("ml-1m.test.rating", "0\t2\t5\t978300760\n1\t4\t3\t99999999999999\n");
        AssertAt(Fails(() => Lrml.Protocols.NcfFiles.ReadRatings(f, 4, 8)), f, 2, "timestamp 99999999999999 is out of range");
    }

    // ---- ids and ratings of the named MovieLens formats ---------------------------------------------------------------

    [Theory]
    [InlineData("ratings.dat", "1::1193::5::978300760\n0::661::3::978302109\n", "user id 0 is out of range", "1 to 2147483647")]
    [InlineData("ratings_implicit.dat", "1::1193\n0::661\n", "user id 0 is out of range", "1 to 2147483647")]
    [InlineData("ratings.dat", "1::1193::5::978300760\n2147483648::661::3::978302109\n", "user id 2147483648 is out of range", "(32-bit)")]
    [InlineData("ratings.dat", "1::1193::5::978300760\n2::0::3::978302109\n", "item id 0 is out of range", "")]
    public void Ml1mIdsOutsideOneToInt32AreReaderErrors(string file, string content, string reason, string range)
    {
        using var t = new TempDir();
        string f = t.File(file, content);
        AssertAt(Fails(() => MovieLens1M.Read(t.Path)), f, 2, reason, range);
    }

    [Theory]
    [InlineData("u.data", "1\t2\t3\t881250949\n1\t3\t0\t881250949\n", "rating \"0\" is not on this format's scale: 1 to 5 in steps of 1")]
    [InlineData("u.data", "1\t2\t3\t881250949\n1\t3\t6\t881250949\n", "rating \"6\" is not on this format's scale: 1 to 5 in steps of 1")]
    [InlineData("u.data", "1\t2\t3\t881250949\n1\t3\t3.5\t881250949\n", "rating \"3.5\" is not on this format's scale")]
    [InlineData("u.data", "1\t2\t3\t881250949\n0\t3\t3\t881250949\n", "user id 0 is out of range")]
    [InlineData("ratings.dat", "1::2::3::978300760\n1::3::0::978300760\n", "rating \"0\" is not on this format's scale: 0.5 to 5 in steps of 0.5")]
    [InlineData("ratings.csv", "userId,movieId,rating,timestamp\n1,2,4.5,964982703\n1,3,5.5,964982703\n", "rating \"5.5\" is not on this format's scale: 0.5 to 5 in steps of 0.5")]
    [InlineData("ratings.csv", "userId,movieId,rating,timestamp\n1,2,4.5,964982703\n1,3,4.25,964982703\n", "rating \"4.25\" is not on this format's scale")]
    public void RatingsOffTheScaleAndIdZeroAreErrorsInTheNamedFormats(string file, string content, string reason)
    {
        using var t = new TempDir();
        string f = t.File(file, content);
        Func<string, Interactions> read = file switch { "u.data" => d => MovieLens100K.Read(d), "ratings.dat" => d => MovieLens1M.Read(d), _ => d => MovieLensCsv.Read(d) };
        AssertAt(Fails(() => read(t.Path)), f, file == "ratings.csv" ? 3 : 2, reason);
    }

    [Fact]
    public void HalfStarsAreOnTheMovieLensScaleAndTheGenericReaderKeepsAnyIdAndRating()
    {
        using var t = new TempDir();
        t.File("ratings.dat", "1::2::0.5::978300760\n1::3::4.5::978300760\n");
        Assert.Equal([0.5f, 4.5f], MovieLens1M.Read(t.Path).Rating!);
        string f = t.File("plays.csv", "0,2147483648,0\n7,3,17.25\n");
        var d = DelimitedReader.Read(f, new DelimitedFormat { RatingColumn = 2 });
        Assert.Equal(["0", "7"], d.Users.Raw);
        Assert.Equal(["2147483648", "3"], d.Items.Raw);
        Assert.Equal([0f, 17.25f], d.Rating!);
    }

    // ---- which file, and files that are directories ------------------------------------------------------------------

    [Fact]
    public void ATruncatedRatingsDatIsNotSilentlyPreferredOverACompleteRatingsImplicitDat()
    {
        using var t = new TempDir();
        t.File("ratings_implicit.dat", "1::1193\n1::661\n1::914\n2::1193\n2::3408\n");
        string f = t.File("ratings.dat", "1::1193::5::978300760\n1::661::3::978302109\n1::914::3::978301968\n");
        var e = Fails(() => MovieLens1M.Read(t.Path));
        AssertAt(e, f, 0, $"disagrees with {Path.Combine(t.Path, "ratings_implicit.dat")}",
            "ratings.dat has 3 data rows and ratings_implicit.dat 5 (the shorter one is truncated?)");
        t.File("ratings.dat", "1::1193::5::978300760\n1::661::3::978302109\n1::999::3::978301968\n2::1193::4::978300000\n2::3408::4::978300001\n");
        AssertAt(Fails(() => MovieLens1M.Read(t.Path)), f, 0, "data row 3 is 1::999 in ratings.dat but 1::914 in ratings_implicit.dat");
        t.File("ratings.dat", "1::1193::5::978300760\n1::661::3::978302109\n1::914::3::978301968\n2::1193::4::978300000\n2::3408::4::978300001\n");
        Assert.Equal(5, MovieLens1M.Read(t.Path).Count);
    }

    [Theory]
    [InlineData("ml-100k", "u.data")]
    [InlineData("ml-100k", "u.item")]
    [InlineData("ml-100k", "u.genre")]
    [InlineData("ml-1m", "ratings.dat")]
    [InlineData("ml-1m", "movies.dat")]
    [InlineData("ml-latest-small", "movies.csv")]
    public void ADirectoryWhereADataFileBelongsIsNamedAsSuch(string dataset, string file)
    {
        using var t = new TempDir();
        string folder = t.Dir(Path.Combine("root", dataset));
        switch (dataset)
        {
            case "ml-100k": t.File(Path.Combine("root", dataset, "u.data"), UData); break;
            case "ml-1m": t.File(Path.Combine("root", dataset, "ratings_implicit.dat"), "1::1193\n"); break;
            default: t.File(Path.Combine("root", dataset, "ratings.csv"), "userId,movieId,rating,timestamp\n1,2,4.5,964982703\n"); break;
        }
        string dir = Path.Combine(folder, file);
        if (File.Exists(dir)) File.Delete(dir);
        Directory.CreateDirectory(dir);
        var e = Fails(() => Datasets.Load(dataset, new DataDirectory(Path.Combine(t.Path, "root"))));
        AssertAt(e, dir, 0, "is a directory, but a data file is expected here");
    }

    [Fact]
    public void AnNcfFileThatIsADirectoryIsNamedAsSuch()
    {
        using var t = new TempDir();
        string dir = t.Dir("ml-1m.test.rating");
        AssertAt(Fails(() => Lrml.Protocols.NcfFiles.ReadRatings(dir, 4, 8)), dir, 0, "is a directory");
    }

    [Fact]
    public void MissingNcfFilesNameTheFetchTargetThatGetsThem()
    {
        using var t = new TempDir();
        t.File("data/ml-1m/ratings.dat", "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978300000\n2::914::4::978300001\n");
        var context = new ExperimentContext { Data = new DataDirectory(Path.Combine(t.Path, "data")), ResultsRoot = Path.Combine(t.Path, "results") };
        var e = Assert.Throws<DatasetNotFoundException>(() => Experiment.GetSplit("ml-1m", "ncf", 1, 99, context));
        Assert.Contains("fetch.sh ml-1m-ncf --data-dir " + context.Data.Root, e.Message);
        Assert.Contains(Path.Combine("ml-1m", "ncf", "ml-1m.test.rating"), e.Message);
    }
}
