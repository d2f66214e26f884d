use uacce_async::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_all_modes() {
    for mode in NotifyMode::ALL {
        let accel = Accel::builder()
            .backend(Backend::Emulated)
            .mode(mode)
            .build()
            .await
            .unwrap();
        let data = vec![7u8; 100_000];
        let gz = accel.compress(Format::Gzip, data.clone()).await.unwrap();
        let back = accel.decompress(Format::Gzip, gz).await.unwrap();
        assert_eq!(&back[..], &data[..], "{mode}");
        let d = accel.digest(HashAlg::Sha256, &b"abc"[..]).await.unwrap();
        assert_eq!(d[0], 0xba);
        for _ in 0..1000 {
            accel.nop().await.unwrap();
        }
        println!("{mode} ok");
    }
}
