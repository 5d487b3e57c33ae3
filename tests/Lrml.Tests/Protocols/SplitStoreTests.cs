using System.Text.Json;
using Lrml.Data;
using Lrml.Protocols;

namespace Lrml.Tests.Protocols;

public class SplitStoreTests
{
    private static Split Sample() =>
        LeaveLastOut.Build(ProtocolTestData.Random(40, 30, 20, seed: 6), new LeaveLastOutOptions { SampledNegatives = 7 }, seed: 12);

    private static string NewDir() => Directory.CreateTempSubdirectory("lrml-split").FullName;

    [Fact]
    public void RoundTripPreservesEverything_AndJsonDescribesIt()
    {
        var split = Sample();
        string dir = NewDir();
        string sha = SplitStore.Save(split, dir);
        var back = SplitStore.Load(dir);
        Assert.Equal(split.Dataset, back.Dataset);
        Assert.Equal(split.Protocol, back.Protocol);
        Assert.Equal(split.Seed, back.Seed);
        Assert.True(split.Train.SetEquals(back.Train));
        Assert.True(split.Validation.SetEquals(back.Validation));
        Assert.True(split.Test.SetEquals(back.Test));
        Assert.True(split.ValidationNegatives!.SetEquals(back.ValidationNegatives!));
        Assert.True(split.TestNegatives!.SetEquals(back.TestNegatives!));
        Assert.Equal(split.Notes.OrderBy(p => p.Key), back.Notes.OrderBy(p => p.Key));
        Assert.Equal(split.UserIds!.Raw, back.UserIds!.Raw);
        Assert.Equal(split.ItemIds!.Raw, back.ItemIds!.Raw);

        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, SplitStore.JsonFileName)));
        var root = doc.RootElement;
        Assert.Equal(sha, root.GetProperty("sha256").GetString());
        Assert.Equal(split.Train.Count, root.GetProperty("counts").GetProperty("train").GetInt32());
        Assert.Equal(split.TestNegatives.Count, root.GetProperty("counts").GetProperty("test_negatives").GetInt32());
        Assert.Equal(split.Notes["duplicate_pairs_merged"], root.GetProperty("notes").GetProperty("duplicate_pairs_merged").GetString());
        Assert.Equal(sha, SplitStore.ReadChecksum(dir));
        // saving the same split again gives byte-identical files (deterministic, no timestamps inside)
        string dir2 = NewDir();
        SplitStore.Save(back, dir2);
        Assert.Equal(File.ReadAllBytes(Path.Combine(dir, SplitStore.BinaryFileName)), File.ReadAllBytes(Path.Combine(dir2, SplitStore.BinaryFileName)));
        Assert.Empty(Directory.GetFiles(dir, "*.lrml-tmp"));
    }

    [Fact]
    public void SplitWithoutOptionalPartsRoundTrips()
    {
        var split = new Split
        {
            Dataset = "x", Protocol = "p", Train = UserItems.FromPairs(2, 3, [0, 1], [2, 0]),
            Validation = UserItems.Empty(2, 3), Test = UserItems.FromPairs(2, 3, [1], [1]),
        };
        string dir = NewDir();
        SplitStore.Save(split, dir);
        var back = SplitStore.Load(dir);
        Assert.Null(back.TestNegatives);
        Assert.Null(back.UserIds);
        Assert.True(back.Test.SetEquals(split.Test));
    }

    [Fact]
    public void FlippedByteIsRejectedAsChecksumMismatch()
    {
        string dir = NewDir();
        SplitStore.Save(Sample(), dir);
        string bin = Path.Combine(dir, SplitStore.BinaryFileName);
        var bytes = File.ReadAllBytes(bin);
        bytes[^10] ^= 0x01;
        File.WriteAllBytes(bin, bytes);
        var ex = Assert.Throws<DataFormatException>(() => SplitStore.Load(dir));
        Assert.Contains("checksum mismatch", ex.Message);
        Assert.Equal(bin, ex.FilePath);
    }

    [Fact]
    public void TruncatedFileIsRejectedAsTruncated()
    {
        string dir = NewDir();
        SplitStore.Save(Sample(), dir);
        string bin = Path.Combine(dir, SplitStore.BinaryFileName);
        var bytes = File.ReadAllBytes(bin);
        File.WriteAllBytes(bin, bytes[..(bytes.Length / 2)]);
        Assert.Contains("truncated", Assert.Throws<DataFormatException>(() => SplitStore.Load(dir)).Message);
        File.WriteAllBytes(bin, bytes[..20]);
        Assert.Contains("truncated", Assert.Throws<DataFormatException>(() => SplitStore.Load(dir)).Message);
    }

    [Fact]
    public void JsonFromAnotherSplitIsRejected_AndWrongMagicOrVersionToo()
    {
        string a = NewDir(), b = NewDir();
        SplitStore.Save(Sample(), a);
        SplitStore.Save(LeaveLastOut.Build(ProtocolTestData.Random(10, 10, 5, seed: 1), 1), b);
        File.Copy(Path.Combine(b, SplitStore.JsonFileName), Path.Combine(a, SplitStore.JsonFileName), overwrite: true);
        Assert.Contains("do not belong together", Assert.Throws<DataFormatException>(() => SplitStore.Load(a)).Message);

        string bin = Path.Combine(b, SplitStore.BinaryFileName);
        var bytes = File.ReadAllBytes(bin);
        var wrongVersion = (byte[])bytes.Clone();
        wrongVersion[8] = 99;
        File.WriteAllBytes(bin, wrongVersion);
        Assert.Contains("version 99", Assert.Throws<DataFormatException>(() => SplitStore.Load(b)).Message);
        var wrongMagic = (byte[])bytes.Clone();
        wrongMagic[0] = (byte)'X';
        File.WriteAllBytes(bin, wrongMagic);
        Assert.Contains("magic", Assert.Throws<DataFormatException>(() => SplitStore.Load(b)).Message);
    }
}
