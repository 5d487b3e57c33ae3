using Lrml.Data;
using Lrml.Util;

namespace Lrml.Tests.Data;

public class SyntheticDataTests
{
    private static readonly SyntheticDataset Default = SyntheticData.Generate(new SyntheticOptions());

    [Fact]
    public void SameSeedGivesIdenticalArraysAndOtherSeedDiffers()
    {
        var a = SyntheticData.Generate(new SyntheticOptions { Users = 200, Items = 120, Seed = 7 });
        var b = SyntheticData.Generate(new SyntheticOptions { Users = 200, Items = 120, Seed = 7 });
        var c = SyntheticData.Generate(new SyntheticOptions { Users = 200, Items = 120, Seed = 8 });
        Assert.Equal(a.Data.User, b.Data.User);
        Assert.Equal(a.Data.Item, b.Data.Item);
        Assert.Equal(a.Data.Timestamp!, b.Data.Timestamp!);
        Assert.Equal(a.Data.Rating!, b.Data.Rating!);
        Assert.Equal(a.RelationType, b.RelationType);
        Assert.Equal(a.IsNoise, b.IsNoise);
        Assert.Equal(a.UserVectors, b.UserVectors);
        Assert.Equal(a.ItemVectors, b.ItemVectors);
        Assert.Equal(a.RelationVectors, b.RelationVectors);
        Assert.Equal(a.Data.Provenance[ProvenanceKeys.Sha256], b.Data.Provenance[ProvenanceKeys.Sha256]);
        Assert.NotEqual(a.Data.Item, c.Data.Item);
        Assert.NotEqual(a.RelationVectors, c.RelationVectors);
        Assert.NotEqual(a.Data.Provenance[ProvenanceKeys.Sha256], c.Data.Provenance[ProvenanceKeys.Sha256]);
    }

    [Fact]
    public void DefaultIsSmallAndWellFormed()
    {
        var s = Default;
        var d = s.Data;
        Assert.Equal(1000, d.NumUsers);
        Assert.Equal(500, d.NumItems);
        Assert.InRange(d.Count / (double)d.NumUsers, 25, 35);
        // no repeated (user, item) pair; rows grouped by user, time-sorted within a user
        Assert.Equal(d.Count, DatasetCard.From(d).DistinctPairs);
        for (int k = 1; k < d.Count; k++)
        {
            Assert.True(d.User[k] >= d.User[k - 1]);
            if (d.User[k] == d.User[k - 1]) Assert.True(d.Timestamp![k] >= d.Timestamp![k - 1]);
        }
        for (int k = 0; k < d.Count; k++)
        {
            Assert.Equal(1 + s.RelationType[k], d.Rating![k]);   // documented encoding: rating = 1 + z
            Assert.InRange(d.Timestamp![k], s.Options.StartTime, s.Options.StartTime + s.Options.PeriodSeconds - 1);
        }
        Assert.Equal("item-17", d.Items[17]);
        Assert.True(d.Catalog!.TryGet("item-17", out var info));
        Assert.Equal(["cluster-" + s.ItemCluster[17]], info.Genres);
        Assert.Equal(s.Options.Clusters, d.Catalog.GenreNames.Count);
        // each user uses at most TypesPerUser relation types
        var typesOf = new HashSet<int>[d.NumUsers];
        for (int k = 0; k < d.Count; k++) (typesOf[d.User[k]] ??= []).Add(s.RelationType[k]);
        Assert.All(typesOf, t => Assert.InRange(t.Count, 1, s.Options.TypesPerUser));
        double noise = s.IsNoise.Count(x => x) / (double)d.Count;
        Assert.InRange(noise, 0.03, 0.07);                      // 5 % requested
        // relation vectors all have the same length
        for (int z = 0; z < s.Options.RelationTypes; z++)
        {
            double norm = Math.Sqrt(Enumerable.Range(0, s.Options.Dim).Sum(k => (double)s.RelationVectors[z * s.Options.Dim + k] * s.RelationVectors[z * s.Options.Dim + k]));
            Assert.Equal(s.Options.RelationScale, norm, 4);
        }
    }

    [Fact]
    public void PlantedRelationsAreRecoverableFromGeometry()
    {
        var s = Default;
        int R = s.Options.RelationTypes;
        // 1. the recorded type is the geometric argmin type far more often than chance (1/R)
        double acc = s.TypeRecoveryAccuracy();
        Assert.True(acc > 0.6, $"type recovery {acc:F3} should exceed 0.6 (chance {1.0 / R:F2})");
        // 2. control: the same rule against shuffled labels is at chance, so the test can fail
        var shuffled = (int[])s.RelationType.Clone();
        new Rng(1, "test/shuffle").Shuffle(shuffled.AsSpan());
        var control = new SyntheticDataset
        {
            Data = s.Data, RelationType = shuffled, IsNoise = s.IsNoise, UserVectors = s.UserVectors, ItemVectors = s.ItemVectors,
            RelationVectors = s.RelationVectors, ClusterCenters = s.ClusterCenters, ItemCluster = s.ItemCluster,
            UserTypeWeights = s.UserTypeWeights, Options = s.Options,
        };
        Assert.InRange(control.TypeRecoveryAccuracy(), 1.0 / R - 0.05, 1.0 / R + 0.05);
        // 3. mean distance under the planted type is smaller than under any other type
        double own = 0, other = 0; long n = 0;
        for (int k = 0; k < s.Data.Count; k++)
        {
            if (s.IsNoise[k]) continue;
            int z = s.RelationType[k];
            own += s.Distance(s.Data.User[k], s.Data.Item[k], z);
            for (int z2 = 0; z2 < R; z2++) if (z2 != z) other += s.Distance(s.Data.User[k], s.Data.Item[k], z2) / (R - 1);
            n++;
        }
        Assert.True(own / n < 0.7 * (other / n), $"mean distance own type {own / n:F3} vs other types {other / n:F3}");
    }

    [Fact]
    public void TimeAndGenreCarryTypeSignal()
    {
        var s = Default;
        int R = s.Options.RelationTypes;
        // mean time per type increases with z (time partly encodes the type)
        var mean = new double[R]; var cnt = new int[R];
        for (int k = 0; k < s.Data.Count; k++) { mean[s.RelationType[k]] += s.Data.Timestamp![k]; cnt[s.RelationType[k]]++; }
        for (int z = 0; z < R; z++) mean[z] /= cnt[z];
        for (int z = 1; z < R; z++) Assert.True(mean[z] > mean[z - 1]);
        // predicting z from the item's cluster (majority type per cluster) beats predicting the overall majority type
        var table = new int[s.Options.Clusters, R];
        for (int k = 0; k < s.Data.Count; k++) table[s.ItemCluster[s.Data.Item[k]], s.RelationType[k]]++;
        long byCluster = 0;
        for (int g = 0; g < s.Options.Clusters; g++) byCluster += Enumerable.Range(0, R).Max(z => table[g, z]);
        Assert.True(byCluster > 1.5 * cnt.Max(), $"cluster → type {byCluster} vs majority {cnt.Max()}");
    }

    [Fact]
    public void OptionsAreValidated()
    {
        Assert.Throws<ArgumentException>(() => SyntheticData.Generate(new SyntheticOptions { Items = 1 }));
        Assert.Throws<ArgumentException>(() => SyntheticData.Generate(new SyntheticOptions { Noise = 1.5 }));
        Assert.Throws<ArgumentException>(() => SyntheticData.Generate(new SyntheticOptions { Temperature = 0 }));
        var tiny = SyntheticData.Generate(new SyntheticOptions { Users = 3, Items = 4, InteractionsPerUser = 50, RelationTypes = 1, Noise = 1 });
        Assert.All(Enumerable.Range(0, 3), u => Assert.Equal(2, tiny.Data.User.Count(x => x == u)));   // capped at Items / 2
        Assert.All(tiny.IsNoise, Assert.True);
    }

    [Fact]
    public void RegistryServesSyntheticWithoutData()
    {
        using var t = new TempDir();
        var dir = new DataDirectory(t.Path);
        Assert.Equal(["synthetic"], Datasets.Available(dir).Select(a => a.Name));
        var d = Datasets.Load("synthetic", dir);
        Assert.Equal(Default.Data.Provenance[ProvenanceKeys.Sha256], d.Provenance[ProvenanceKeys.Sha256]);
    }
}
